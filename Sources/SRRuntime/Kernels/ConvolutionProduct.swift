import SRCore

extension Kernels {
    /// The products `out = W·X` of a convolution, one per image and group: W [og × k] the
    /// group's weights, X [k × columns] its input or unfolded input. Packed once and
    /// multiplied by `PackedGEMM` where the convolution may round differently from a direct
    /// one (`WinogradTile.f4x4`: a forward pass whose output is the result, a gradient's
    /// backward convolutions); by OpenBLAS under an explanation's forward pass, whose ReLU and
    /// max-pool switches are kept where PyTorch's float32 puts them (a switch flipped by the
    /// packed sums moved VGG-16's gradient 0.47 % of its largest value from the float64
    /// truth, where Captum's float32 is 0.28 % away).
    struct ConvolutionProduct {
        let weights: UnsafeMutablePointer<Float>
        let packed: Tensor?
        let rows: Int, depth: Int

        init(_ w: Tensor, groups: Int, packed: Bool, scratch: Scratch) {
            weights = w.pointer
            rows = w.shape[0] / groups
            depth = w.count / w.shape[0]
            self.packed = packed ? scratch.packed(w, groups: groups) : nil
        }

        private func packedGroup(_ grp: Int, _ p: Tensor) -> UnsafePointer<Float> {
            UnsafePointer(p.pointer + grp * PackedGEMM.packedCount(rows: rows, depth: depth))
        }

        /// Group `grp`'s product over `columns` columns, split across the workers;
        /// `finish(rows, columns)` runs on each worker's block while it is in cache.
        func multiply(group grp: Int, x: UnsafePointer<Float>, ldx: Int, columns n: Int, out: UnsafeMutablePointer<Float>,
                      ldo: Int, finish: (Range<Int>, Range<Int>) -> Void) {
            if let packed {
                PackedGEMM.multiply(packedGroup(grp, packed), rows: rows, depth: depth, x: x, ldx: ldx, columns: n, out: out,
                                    ldo: ldo, finish: finish)
                return
            }
            // As BLAS.sgemm: by columns when the output is at least twice as wide as tall.
            let (m, k, a) = (rows, depth, weights + grp * rows * depth)
            let big = m * n * k > 1 << 20
            if n >= 2 * m {
                Parallel.forEach(n, minChunk: big ? 32 : n) { cols in
                    BLAS.sgemmSingle(m: m, n: cols.count, k: k, a: a, lda: k, b: x + cols.lowerBound, ldb: ldx,
                                     c: out + cols.lowerBound, ldc: ldo)
                    finish(0..<m, cols)
                }
            } else {
                Parallel.forEach(m, minChunk: big ? 16 : m) { r in
                    BLAS.sgemmSingle(m: r.count, n: n, k: k, a: a + r.lowerBound * k, lda: k, b: x, ldb: ldx,
                                     c: out + r.lowerBound * ldo, ldc: ldo)
                    finish(r, 0..<n)
                }
            }
        }

        /// Group `grp`'s product over `columns` columns on the calling thread (inside a worker).
        func multiplyOnThisThread(group grp: Int, x: UnsafePointer<Float>, ldx: Int, columns n: Int,
                                  out: UnsafeMutablePointer<Float>, ldo: Int) {
            if let packed {
                PackedGEMM.multiply(packedGroup(grp, packed), rows: rows, depth: depth, x: x, ldx: ldx, out: out, ldo: ldo,
                                    panels: 0..<((rows + PackedGEMM.panelRows - 1) / PackedGEMM.panelRows), columns: 0..<n)
            } else {
                BLAS.sgemmSingle(m: rows, n: n, k: depth, a: weights + grp * rows * depth, lda: depth, b: x, ldb: ldx,
                                 c: out, ldc: ldo)
            }
        }
    }
}
