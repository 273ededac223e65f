import CKernels
import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// The packed-weight product (CKernels/gemm.c) against a float64 product, and the same bits
/// at every instruction set this CPU runs.
final class PackedGEMMTests: XCTestCase {
    /// Rows not a multiple of a panel (32), columns not a multiple of seven, a depth over the
    /// kernel's blocks of 256 inputs, strided inputs and outputs, blocks of panels and columns
    /// that leave the rest of the output alone, weights packed transposed (each level packing
    /// its own, the same floats), and the product stored transposed (a linear layer's rows).
    func testProductMatchesFloat64AtEveryInstructionSet() {
        var rng = Seeded(state: 7)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [(m: Int, k: Int, n: Int, ldx: Int, ldo: Int, transposed: Bool, rowsOut: Bool)] = [
            (70, 37, 23, 23, 23, false, false),
            (32, 2500, 49, 51, 50, false, false),
            (5, 9, 3, 4, 3, true, false),
            (96, 130, 60, 60, 61, true, false),
            (70, 300, 23, 23, 75, false, true),
            (17, 5, 9, 9, 17, false, true),
        ]
        for (i, t) in cases.enumerated() {
            let w = (0..<(t.m * t.k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let x = (0..<(t.k * t.ldx)).map { _ in Float.random(in: -1...1, using: &rng) }
            // W[r][kk] at w[r·k + kk], or, packed transposed, at w[kk·m + r].
            let (rowStride, colStride) = t.transposed ? (1, t.m) : (t.k, 1)
            // Product element (r, j) at out[r·ldo + j], or, stored transposed, at out[j·ldo + r].
            let (outRows, at): (Int, (Int, Int) -> Int) = t.rowsOut ? (t.n, { $1 * t.ldo + $0 }) : (t.m, { $0 * t.ldo + $1 })
            let panels = (t.m + 31) / 32
            // Every second panel over the middle columns; the rest must stay as they were.
            let (someP, someJ) = (Swift.stride(from: 0, to: panels, by: 2), 2..<(t.n - 1))
            var first: [Float]?, firstPacked: [Float]?
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                var packed = [Float](repeating: .nan, count: Kernels.PackedGEMM.packedCount(rows: t.m, depth: t.k))
                srk_pack(w, Int32(t.m), Int32(t.k), rowStride, colStride, &packed)
                if let firstPacked { XCTAssertEqual(packed, firstPacked, "case \(i) packed at \(level)") } else { firstPacked = packed }
                var out = [Float](repeating: -7, count: outRows * t.ldo)
                x.withUnsafeBufferPointer { xs in
                    let operand = Kernels.PackedGEMM.Operand.matrix(xs.baseAddress!, depth: t.k, columns: t.n, ldx: t.ldx)
                    for p in someP {
                        Kernels.PackedGEMM.multiply(packed, rows: t.m, depth: t.k, x: operand, out: &out, ldo: t.ldo,
                                                    transposedOut: t.rowsOut, panels: p..<(p + 1), columns: someJ)
                    }
                }
                var written = Set<Int>()
                for r in 0..<t.m { for j in 0..<t.n where (r / 32) % 2 == 0 && someJ.contains(j) {
                    let got = out[at(r, j)]
                    written.insert(at(r, j))
                    var want = 0.0, scale = 0.0
                    for kk in 0..<t.k {
                        let term = Double(w[r * rowStride + kk * colStride]) * Double(x[kk * t.ldx + j])
                        want += term; scale += abs(term)
                    }
                    XCTAssertLessThanOrEqual(abs(Double(got) - want), 1e-6 * scale + 1e-7,
                                             "case \(i) at \(level): (\(r), \(j)) \(got) vs \(want)")
                } }
                for e in out.indices where !written.contains(e) { XCTAssertEqual(out[e], -7, "case \(i) at \(level): [\(e)] written") }
                if let first { XCTAssertEqual(out, first, "case \(i) at \(level)") } else { first = out }
            }
        }
    }

    /// `srk_transpose` against the element loop at every level: tiles cut by the edges,
    /// strided source and destination, and nothing else of the destination written.
    func testTransposeMatchesTheElementLoopAtEveryInstructionSet() {
        var rng = Seeded(state: 8)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        for (rows, cols, lds, ldd) in [(1, 1, 1, 1), (5, 37, 40, 5), (16, 16, 16, 16), (33, 70, 71, 35), (64, 3, 3, 64)] {
            let src = (0..<(rows * lds)).map { _ in Float.random(in: -1...1, using: &rng) }
            var want = [Float](repeating: -7, count: cols * ldd)
            for i in 0..<rows { for j in 0..<cols { want[j * ldd + i] = src[i * lds + j] } }
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                var got = [Float](repeating: -7, count: cols * ldd)
                srk_transpose(src, Int32(rows), Int32(cols), lds, &got, ldd)
                XCTAssertEqual(got, want, "\(rows)×\(cols) at \(level)")
            }
        }
    }

    /// `srk_pointwise` (1×1 convolutions, CKernels/pointwise.c) gives the packed product's bits
    /// at every level: output channels not a multiple of its 8-channel tiles, pixels not a
    /// multiple of its 32-pixel tiles (one to 31 left over), strided planes, and a block of
    /// rows and pixels that leaves the rest of the output alone.
    func testPointwiseIsThePackedProductsBitsAtEveryInstructionSet() {
        var rng = Seeded(state: 9)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [(m: Int, k: Int, n: Int, ldx: Int, ldo: Int, rows: Range<Int>, cols: Range<Int>)] = [
            (24, 144, 100, 100, 100, 0..<24, 0..<100),
            (13, 5, 47, 50, 49, 3..<13, 1..<46),
            (96, 16, 64, 64, 64, 0..<96, 32..<64),
            (7, 300, 17, 17, 20, 0..<7, 0..<17),
        ]
        for (i, t) in cases.enumerated() {
            let w = (0..<(t.m * t.k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let x = (0..<(t.k * t.ldx)).map { _ in Float.random(in: -1...1, using: &rng) }
            var packed = [Float](repeating: .nan, count: Kernels.PackedGEMM.packedCount(rows: t.m, depth: t.k))
            srk_pack(w, Int32(t.m), Int32(t.k), t.k, 1, &packed)
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                var want = [Float](repeating: -7, count: t.m * t.ldo)
                x.withUnsafeBufferPointer { xs in
                    let operand = Kernels.PackedGEMM.Operand.matrix(xs.baseAddress!, depth: t.k, columns: t.n, ldx: t.ldx)
                    Kernels.PackedGEMM.multiply(packed, rows: t.m, depth: t.k, x: operand, out: &want, ldo: t.ldo,
                                                transposedOut: false, panels: 0..<((t.m + 31) / 32), columns: t.cols)
                }
                for r in 0..<t.m where !t.rows.contains(r) { for j in 0..<t.ldo { want[r * t.ldo + j] = -7 } }
                var got = [Float](repeating: -7, count: t.m * t.ldo)
                srk_pointwise(x, t.ldx, Int32(t.k), w, &got, t.ldo, Int32(t.rows.lowerBound), Int32(t.rows.upperBound),
                              Int32(t.cols.lowerBound), Int32(t.cols.upperBound))
                let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "case \(i) at \(level): elements not the packed product's bits")
            }
        }
    }

    /// `srk_pointwise_finished` (the bias, a residual and a ReLU or Clip applied to each sum in
    /// registers) gives the bits of `srk_pointwise` followed by `Kernels.finishRow` over the
    /// same rows, at every level: with and without a bias and a residual, biases of +0 and −0
    /// (added under an activation or with a residual, skipped otherwise), more than 256
    /// inputs (finished after the last block only),
    /// partial tiles and rows, and columns whose sums are NaN, ±∞ or exactly 0, the cases
    /// where a max or min written another way would differ.
    func testPointwiseFinishedIsFinishRowsBits() {
        var rng = Seeded(state: 12)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let activations: [(FusedActivation?, Int32, Float, Float)] = [
            (nil, Int32(SRK_FINISH_NONE), 0, 0), (.relu(slope: 0), Int32(SRK_FINISH_RELU), 0, 0),
            (.clip(min: 0, max: 6), Int32(SRK_FINISH_CLIP), 0, 6), (.clip(min: -0.5, max: 0.25), Int32(SRK_FINISH_CLIP), -0.5, 0.25),
        ]
        let cases: [(m: Int, k: Int, n: Int, rows: Range<Int>, cols: Range<Int>)] = [
            (24, 16, 100, 0..<24, 0..<100), (13, 300, 47, 3..<13, 1..<46),
        ]
        for (i, t) in cases.enumerated() {
            let w = (0..<(t.m * t.k)).map { _ in Float.random(in: -1...1, using: &rng) }
            var x = (0..<(t.k * t.n)).map { _ in Float.random(in: -1...1, using: &rng) * 4 }
            // Column 5 sums to NaN, 6 to ±∞, 7 to exactly 0 in every row.
            x[5] = .nan
            x[6] = .infinity
            for kk in 0..<t.k { x[kk * t.n + 7] = 0 }
            var bias = (0..<t.m).map { _ in Float.random(in: -1...1, using: &rng) }
            bias[0] = 0
            bias[1] = -0.0
            let residual = (0..<(t.m * t.n)).map { _ in Float.random(in: -2...2, using: &rng) }
            for (a, (activation, act, lo, hi)) in activations.enumerated() {
                for (withBias, withResidual) in [(false, false), (true, false), (false, true), (true, true)] {
                    for level in InstructionSet.allCases where level <= InstructionSet.supported {
                        XCTAssertEqual(InstructionSet.use(level), level)
                        var want = [Float](repeating: -7, count: t.m * t.n), got = want
                        srk_pointwise(x, t.n, Int32(t.k), w, &want, t.n, Int32(t.rows.lowerBound), Int32(t.rows.upperBound),
                                      Int32(t.cols.lowerBound), Int32(t.cols.upperBound))
                        want.withUnsafeMutableBufferPointer { out in
                            residual.withUnsafeBufferPointer { res in
                                for r in t.rows {
                                    let at = r * t.n + t.cols.lowerBound
                                    Kernels.finishRow(out.baseAddress! + at, count: t.cols.count, bias: withBias ? bias[r] : 0,
                                                      residual: withResidual ? UnsafeMutablePointer(mutating: res.baseAddress! + at) : nil,
                                                      activation: activation)
                                }
                            }
                        }
                        bias.withUnsafeBufferPointer { b in
                            residual.withUnsafeBufferPointer { res in
                                srk_pointwise_finished(x, t.n, Int32(t.k), w, &got, t.n, Int32(t.rows.lowerBound),
                                                       Int32(t.rows.upperBound), Int32(t.cols.lowerBound),
                                                       Int32(t.cols.upperBound), withBias ? b.baseAddress : nil,
                                                       withResidual ? res.baseAddress : nil, act, lo, hi)
                            }
                        }
                        let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
                        XCTAssertEqual(differing, 0, "case \(i), activation \(a), bias \(withBias), residual \(withResidual) at \(level): not finishRow's bits")
                    }
                }
            }
        }
    }

    /// The whole product shared between workers — by panels, or for 3, 5 or 7 panels on two
    /// workers by units of a panel × seven columns, a worker's run starting and ending inside
    /// panels — gives one worker's bits, and `finish` sees every element exactly once.
    func testWorkersShareTheProductWithoutChangingIt() {
        var rng = Seeded(state: 13)
        // A million multiply-adds or more, or weights of 256 KB, so more than one worker runs
        // (the last, smaller, on one).
        for (m, k, n) in [(96, 300, 49), (160, 200, 49), (224, 24, 196), (70, 300, 60), (64, 600, 100), (20, 8, 15)] {
            let w = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let x = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
            var packed = [Float](repeating: .nan, count: Kernels.PackedGEMM.packedCount(rows: m, depth: k))
            srk_pack(w, Int32(m), Int32(k), k, 1, &packed)
            func run(threads: Int) -> ([Float], [Int]) {
                var out = [Float](repeating: -7, count: m * n), seen = [Int](repeating: 0, count: m * n)
                let lock = NSLock()
                x.withUnsafeBufferPointer { xs in
                    let operand = Kernels.PackedGEMM.Operand.matrix(xs.baseAddress!, depth: k, columns: n, ldx: n)
                    Parallel.using(threads) {
                        Kernels.PackedGEMM.multiply(packed, rows: m, depth: k, x: operand, out: &out, ldo: n) { rows, cols in
                            lock.lock()
                            for r in rows { for j in cols { seen[r * n + j] += 1 } }
                            lock.unlock()
                        }
                    }
                }
                return (out, seen)
            }
            let (one, _) = run(threads: 1)
            for threads in [2, 3] {
                let (shared, seen) = run(threads: threads)
                let differing = zip(shared, one).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(m)×\(k)×\(n) on \(threads) workers: not one worker's bits")
                XCTAssertEqual(seen.filter { $0 != 1 }.count, 0, "\(m)×\(k)×\(n) on \(threads) workers: finished not once each")
            }
        }
    }

    /// Both products sum a long dot product in blocks of 256 inputs, each a chain of fused
    /// multiply-adds from 0, the blocks' sums added in order: the bits of that order written
    /// out, at every level, over 1,000 inputs (blocks of 256, 256, 256 and 232). One chain over
    /// all of them strays further from the exact sum (gemm.c says where it showed).
    func testSumsRunInBlocksOf256Inputs() {
        var rng = Seeded(state: 10)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let (m, k, n) = (40, 1000, 37)
        let w = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        var want = [Float](repeating: 0, count: m * n)
        for r in 0..<m { for j in 0..<n {
            var total: Float = 0
            for k0 in Swift.stride(from: 0, to: k, by: 256) {
                var part: Float = 0
                for kk in k0..<min(k, k0 + 256) { part = part.addingProduct(w[r * k + kk], x[kk * n + j]) }
                total = k0 == 0 ? part : total + part
            }
            want[r * n + j] = total
        } }
        var packed = [Float](repeating: .nan, count: Kernels.PackedGEMM.packedCount(rows: m, depth: k))
        srk_pack(w, Int32(m), Int32(k), k, 1, &packed)
        for level in InstructionSet.allCases where level <= InstructionSet.supported {
            XCTAssertEqual(InstructionSet.use(level), level)
            var product = [Float](repeating: -7, count: m * n), pointwise = product
            x.withUnsafeBufferPointer { xs in
                let operand = Kernels.PackedGEMM.Operand.matrix(xs.baseAddress!, depth: k, columns: n, ldx: n)
                Kernels.PackedGEMM.multiply(packed, rows: m, depth: k, x: operand, out: &product, ldo: n,
                                            transposedOut: false, panels: 0..<((m + 31) / 32), columns: 0..<n)
            }
            srk_pointwise(x, n, Int32(k), w, &pointwise, n, 0, Int32(m), 0, Int32(n))
            for (name, got) in [("packed product", product), ("pointwise", pointwise)] {
                let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(name) at \(level): not the blocked sums' bits")
            }
        }
    }

    /// `conv2d(packedWeights: false)` (LRP's modified weights) computes the convolution
    /// without keeping a packed copy of its weight; by default the copy is kept for the next
    /// call. Both against the naive convolution.
    func testConvolutionKeepsAPackedCopyOnlyWhenAsked() {
        var rng = Seeded(state: 11)
        let a = Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1])
        let x = Tensor(zeros: [1, 16, 20, 20]), w = Tensor(zeros: [40, 16, 3, 3])
        for i in 0..<x.count { x.pointer[i] = Float.random(in: -1...1, using: &rng) }
        for i in 0..<w.count { w.pointer[i] = Float.random(in: -1...1, using: &rng) }
        let shape = [1, 40, 10, 10]
        let slow = NaiveKernels.conv2d(x, weight: w, bias: nil, a, outShape: shape)
        for packed in [false, true] {
            let scratch = Scratch()
            let fast = Kernels.conv2d(x, weight: w, bias: nil, a, outShape: shape, scratch: scratch, packedWeights: packed)
            if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-5) { XCTFail("packedWeights \(packed): \(why)") }
            XCTAssertEqual(scratch.derivedCount > 0, packed, "packedWeights \(packed): \(scratch.derivedCount) floats kept")
        }
    }
}
