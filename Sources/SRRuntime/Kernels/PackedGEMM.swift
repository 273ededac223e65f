import CKernels
import SRCore

extension Kernels {
    /// The product `out[r][j] = Σ_kk W[r][kk]·X[kk][j]` with W packed once (`Scratch.packed`) in
    /// panels of 32 rows and the columns taken seven at a time (CKernels/gemm.c): OpenBLAS packs
    /// the weights on every call, which costs as much as the product on a 7×7 map, and its
    /// sixteen-wide column tiles waste a quarter of the lanes on 49 pixels. X is read through
    /// two offset tables, `x[rows[kk] + columns[j]]`, so a convolution's input serves as X
    /// without an im2col matrix (`packedConv2d`). Every instruction-set level gives the same bits.
    enum PackedGEMM {
        static let panelRows = Int(SRK_PANEL_ROWS)

        /// Floats in the packed form of an m×k matrix.
        static func packedCount(rows m: Int, depth k: Int) -> Int { Int(srk_packed_size(Int32(m), Int32(k))) }

        /// X[kk][j] at `base[rows[kk] + columns[j]]`.
        struct Operand {
            let base: UnsafePointer<Float>
            let rows: [Int]
            let columns: [Int]

            /// A row-major k×n matrix with rows `ldx` apart.
            static func matrix(_ x: UnsafePointer<Float>, depth k: Int, columns n: Int, ldx: Int) -> Operand {
                Operand(base: x, rows: (0..<k).map { $0 * ldx }, columns: Array(0..<n))
            }
        }

        /// Rows `panels` (32 per panel) × `columns` of `out = W·X`, on the calling thread; with
        /// `transposedOut` stored as `(W·X)ᵀ`, column j of the product at `out + j·ldo`.
        static func multiply(_ packed: UnsafePointer<Float>, rows m: Int, depth k: Int, x: Operand,
                             out: UnsafeMutablePointer<Float>, ldo: Int, transposedOut: Bool = false, panels: Range<Int>,
                             columns: Range<Int>) {
            precondition(x.rows.count == k && columns.upperBound <= x.columns.count, "packed product: operand tables")
            let product = transposedOut ? srk_sgemm_packed_rows : srk_sgemm_packed
            x.rows.withUnsafeBufferPointer { rows in
                x.columns.withUnsafeBufferPointer { cols in
                    product(packed, Int32(m), Int32(k), x.base, rows.baseAddress, cols.baseAddress, out, ldo,
                            Int32(panels.lowerBound), Int32(panels.upperBound), Int32(columns.lowerBound),
                            Int32(columns.upperBound))
                }
            }
        }

        /// Columns per step of a worker's block: `finish` runs on each step's columns while they
        /// are in cache (gemm.c's largest chunk). Run after a whole block, it read MobileNetV2's
        /// stem output (32 × 12 544 floats) back from memory.
        static let finishColumns = 224

        /// All of `out = W·X` (m × x.columns.count), split across the workers by panels when
        /// there are enough to share evenly, else by units of a panel × seven columns;
        /// `finish(rows, columns)` runs on each worker's block, `finishColumns` at a time,
        /// while it is in cache (bias, residual, activation).
        static func multiply(_ packed: UnsafePointer<Float>, rows m: Int, depth k: Int, x: Operand,
                             out: UnsafeMutablePointer<Float>, ldo: Int, transposedOut: Bool = false,
                             finish: (Range<Int>, Range<Int>) -> Void) {
            let n = x.columns.count
            let panels = (m + panelRows - 1) / panelRows
            let threads = Parallel.threads
            // One worker below a million multiply-adds, unless the weights alone are 256 KB or
            // more: a squeeze-and-excitation block's 1×1 layers on one pixel (MobileNetV3's
            // 960 × 240) are bound by reading their weights from memory, which two cores do
            // faster than one.
            let small = m * n * k < 1 << 20 && m * k < 1 << 16
            func block(_ p: Range<Int>, _ columns: Range<Int>) {
                for j in Swift.stride(from: columns.lowerBound, to: columns.upperBound, by: finishColumns) {
                    let step = j..<min(columns.upperBound, j + finishColumns)
                    multiply(packed, rows: m, depth: k, x: x, out: out, ldo: ldo, transposedOut: transposedOut, panels: p,
                             columns: step)
                    finish((p.lowerBound * panelRows)..<min(m, p.upperBound * panelRows), step)
                }
            }
            if panels % threads == 0 || panels >= 4 * threads || n < 14 {
                Parallel.forEach(panels, minChunk: small ? panels : 1) { p in block(p, 0..<n) }
                return
            }
            // Units of one panel × seven columns, panel after panel, shared in contiguous runs:
            // a run is at most a partial panel, whole panels and another partial panel. Five
            // panels (MobileNetV3's 160-channel projections on 7×7 maps) had been shared by
            // columns, three sevens against four.
            let sevens = (n + 6) / 7, units = panels * sevens
            Parallel.forEach(units, minChunk: small ? units : 1) { run in
                var u = run.lowerBound
                while u < run.upperBound {
                    let p = u / sevens, s = u % sevens
                    if s == 0 && run.upperBound - u >= sevens {
                        let whole = (run.upperBound - u) / sevens
                        block(p..<(p + whole), 0..<n)
                        u += whole * sevens
                    } else {
                        let end = min(sevens, s + run.upperBound - u)
                        block(p..<(p + 1), (s * 7)..<min(n, end * 7))
                        u += end - s
                    }
                }
            }
        }
    }
}

extension Scratch {
    /// The weights [o, cg, kh, kw] of a convolution with `groups` groups packed for
    /// `Kernels.PackedGEMM`, each group's W [o/groups × cg·kh·kw] — or, `transposed`, Wᵀ (the
    /// input-gradient's product dX = Wᵀ·dY) — one group after another (group g at
    /// g·packedCount of its rows and depth), made once per weight tensor.
    func packed(_ w: Tensor, groups g: Int, transposed: Bool = false) -> Tensor {
        derived(from: w, kind: transposed ? "packed-transposed" : "packed", groups: g) { w in
            let og = w.shape[0] / g, k = w.count / w.shape[0]
            // Element (r, kk) of W at r·k + kk; of Wᵀ at kk·k + r.
            let (rows, depth, rowStride, colStride) = transposed ? (k, og, 1, k) : (og, k, k, 1)
            let each = Kernels.PackedGEMM.packedCount(rows: rows, depth: depth)
            let t = Tensor(uninitialized: [each * g])
            for grp in 0..<g {
                srk_pack(w.pointer + grp * og * k, Int32(rows), Int32(depth), rowStride, colStride, t.pointer + grp * each)
            }
            return t
        }
    }
}
