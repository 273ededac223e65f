import SRCore
import XCTest

final class ShapeTests: XCTestCase {
    func testElementCountRejectsOverflowAndNegatives() {
        XCTAssertEqual(Shape.elementCount([2, 3, 4]), 24)
        XCTAssertNil(Shape.elementCount([-1, 3]))
        XCTAssertNil(Shape.elementCount([Int.max / 2, 3]))
    }

    func testBroadcast() {
        XCTAssertEqual(Shape.broadcast([[2, 3, 4, 5], [3, 1, 1]]), [2, 3, 4, 5])
        XCTAssertNil(Shape.broadcast([[2, 3], [4]]))
    }

    /// Caffe / ONNX ceil mode: the last window may not start in the end padding.
    func testPoolOutputCeilDropsWindowStartingInPadding() {
        XCTAssertEqual(Shape.poolOutput(5, kernel: 2, stride: 2, padBegin: 1, padEnd: 1, ceil: true), 3)
        XCTAssertEqual(Shape.poolOutput(8, kernel: 3, stride: 2, padBegin: 0, padEnd: 0, ceil: true), 4)
        XCTAssertEqual(Shape.poolOutput(8, kernel: 3, stride: 2, padBegin: 0, padEnd: 0, ceil: false), 3)
    }
}
