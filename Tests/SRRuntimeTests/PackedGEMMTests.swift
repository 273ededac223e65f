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
    /// that leave the rest of the output alone, and weights packed transposed.
    func testProductMatchesFloat64AtEveryInstructionSet() {
        var rng = Seeded(state: 7)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [(m: Int, k: Int, n: Int, ldx: Int, ldo: Int, transposed: Bool)] = [
            (70, 37, 23, 23, 23, false),
            (32, 2500, 49, 51, 50, false),
            (5, 9, 3, 4, 3, true),
            (96, 130, 60, 60, 61, true),
        ]
        for (i, t) in cases.enumerated() {
            let w = (0..<(t.m * t.k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let x = (0..<(t.k * t.ldx)).map { _ in Float.random(in: -1...1, using: &rng) }
            // W[r][kk] at w[r·k + kk], or, packed transposed, at w[kk·m + r].
            let (rowStride, colStride) = t.transposed ? (1, t.m) : (t.k, 1)
            var packed = [Float](repeating: .nan, count: Kernels.PackedGEMM.packedCount(rows: t.m, depth: t.k))
            srk_pack(w, Int32(t.m), Int32(t.k), rowStride, colStride, &packed)
            let panels = (t.m + 31) / 32
            // Every second panel over the middle columns; the rest must stay as they were.
            let (someP, someJ) = (Swift.stride(from: 0, to: panels, by: 2), 2..<(t.n - 1))
            var first: [Float]?
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                var out = [Float](repeating: -7, count: t.m * t.ldo)
                x.withUnsafeBufferPointer { xs in
                    let operand = Kernels.PackedGEMM.Operand.matrix(xs.baseAddress!, depth: t.k, columns: t.n, ldx: t.ldx)
                    for p in someP {
                        Kernels.PackedGEMM.multiply(packed, rows: t.m, depth: t.k, x: operand, out: &out, ldo: t.ldo,
                                                    panels: p..<(p + 1), columns: someJ)
                    }
                }
                for r in 0..<t.m { for j in 0..<t.ldo {
                    let got = out[r * t.ldo + j]
                    guard (r / 32) % 2 == 0 && someJ.contains(j) else {
                        XCTAssertEqual(got, -7, "case \(i) at \(level): (\(r), \(j)) written"); continue
                    }
                    var want = 0.0, scale = 0.0
                    for kk in 0..<t.k {
                        let term = Double(w[r * rowStride + kk * colStride]) * Double(x[kk * t.ldx + j])
                        want += term; scale += abs(term)
                    }
                    XCTAssertLessThanOrEqual(abs(Double(got) - want), 1e-6 * scale + 1e-7,
                                             "case \(i) at \(level): (\(r), \(j)) \(got) vs \(want)")
                } }
                if let first { XCTAssertEqual(out, first, "case \(i) at \(level)") } else { first = out }
            }
        }
    }
}
