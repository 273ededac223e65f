import XCTest
import SREval

/// The pointing game's tolerance (srtool's addition; Quantus has none), in closed form: a
/// hit when the map's maximum lies within that Euclidean distance, in pixels, of a mask
/// pixel. With tolerance 0 it is Quantus' (checked in QuantusFixtureTests).
final class PointingGameToleranceTests: XCTestCase {
    /// An 8×8 map whose one maximum is at (row 2, column 2); a mask of the one pixel `at`.
    func score(maskAt at: (Int, Int), tolerance: Int) throws -> Double {
        var values = [Double](repeating: 0, count: 64)
        values[2 * 8 + 2] = 1
        var inside = [Bool](repeating: false, count: 64)
        inside[at.0 * 8 + at.1] = true
        return try PointingGame.score(PixelMap(height: 8, width: 8, values: values), mask: Mask(height: 8, width: 8, inside: inside),
                                      tolerance: tolerance)
    }

    func testAMaximumWithinTheToleranceIsAHit() throws {
        // Three pixels to the right: distance 3.
        XCTAssertEqual(try score(maskAt: (2, 5), tolerance: 0), 0)
        XCTAssertEqual(try score(maskAt: (2, 5), tolerance: 2), 0)
        XCTAssertEqual(try score(maskAt: (2, 5), tolerance: 3), 1)
        // Two down and two right: distance √8 ≈ 2.83, so 3 reaches it and 2 does not
        // (a square window of side 2 would).
        XCTAssertEqual(try score(maskAt: (4, 4), tolerance: 2), 0)
        XCTAssertEqual(try score(maskAt: (4, 4), tolerance: 3), 1)
        // On the maximum itself: a hit at any tolerance; the map's edge clips the window.
        XCTAssertEqual(try score(maskAt: (2, 2), tolerance: 0), 1)
        XCTAssertEqual(try score(maskAt: (0, 0), tolerance: 3), 1)
    }
}
