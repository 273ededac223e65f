import CKernels
import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// Winograd's input transforms on AVX-512 (CKernels/winograd.c, sixteen tiles a vector)
/// against the Swift transforms they stand in for, eight tiles a vector: the same bits.
extension NaiveTwinTests {
    /// F(4×4) and F(2×2); maps narrower than one group of sixteen tiles and wider than two,
    /// pads of 0, 1 and 2 on either side, odd sizes, a range of tiles starting and ending
    /// inside tile rows (partial groups at both ends), and every element's layout with a
    /// stride wider than the range.
    func testWinogradInputTransformsAreTheSwiftTransformsBits() throws {
        guard InstructionSet.supported == .avx512 else { throw XCTSkip("the C transforms run on AVX-512 only") }
        var rng = Seeded(state: 52)
        let cases: [(h: Int, w: Int, pt: Int, pl: Int, tiles: (Int, Int) -> Range<Int>)] = [
            (56, 56, 1, 1, { _, n in 0..<n }),
            (7, 7, 1, 1, { _, n in 0..<n }),
            (30, 150, 0, 2, { tw, n in (tw / 2)..<(n - 3) }),
            (13, 69, 2, 0, { tw, _ in 5..<(3 * tw + 7) }),
            (9, 300, 1, 1, { tw, n in (tw - 1)..<n }),
        ]
        for size in [4, 2] {
            let elements = (size + 2) * (size + 2)
            for (i, c) in cases.enumerated() {
                let plane = random([c.h, c.w], &rng)
                // A 3×3 convolution with these pads on the top and left and as many at the
                // bottom and right: its output is (h + 2pt − 2) × (w + 2pl − 2).
                let (ho, wo) = (c.h + 2 * c.pt - 2, c.w + 2 * c.pl - 2)
                let tw = (wo + size - 1) / size, n = ((ho + size - 1) / size) * tw
                let tiles = c.tiles(tw, n), stride = tiles.count + 5
                var want = [Float](repeating: -7, count: elements * stride), got = want
                want.withUnsafeMutableBufferPointer { v in
                    if size == 4 {
                        Kernels.transformInputF4Lanes8(plane.pointer, height: c.h, width: c.w, pads: (c.pt, c.pl),
                                                       tilesWide: tw, tiles: tiles, into: v.baseAddress!, stride: stride)
                    } else {
                        Kernels.transformInputLanes8(plane.pointer, height: c.h, width: c.w, pads: (c.pt, c.pl),
                                                     tilesWide: tw, tiles: tiles, into: v.baseAddress!, stride: stride)
                    }
                }
                let ran = srk_winograd_input(Int32(size), plane.pointer, Int32(c.h), Int32(c.w), Int32(c.pt), Int32(c.pl), Int32(tw),
                                    Int32(tiles.lowerBound), Int32(tiles.upperBound), &got, stride)
                XCTAssertEqual(ran, 1, "F(\(size)×\(size)) case \(i): the C transform did not run")
                let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "F(\(size)×\(size)) case \(i): elements not the Swift transform's bits")
            }
        }
    }
}
