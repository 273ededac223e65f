import Foundation
import SRCore
import SRFormats
import XCTest

final class NPYTests: XCTestCase {
    func testRoundTrip() throws {
        let t = try Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-8, -7])
        let back = try NPY.read(NPY.encode(t), name: "t")
        XCTAssertEqual(back.shape, [2, 3])
        XCTAssertEqual(back.values, t.values)
        let v = try NPY.read(NPY.encode(try Tensor(shape: [4], values: [1, 2, 3, 4])), name: "v")
        XCTAssertEqual(v.shape, [4])
    }

    func testTruncatedAndHostileFilesAreMalformed() throws {
        let good = NPY.encode(try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        for cut in [0, 5, 9, 40, good.count - 1] {
            XCTAssertThrowsError(try NPY.read(good.prefix(cut), name: "x")) { e in
                guard case SRError.malformed = e else { return XCTFail("\(cut): \(e)") }
            }
        }
        var huge = good
        let header = String(decoding: good, as: UTF8.self)
        if let r = header.range(of: "(2, 3)") {
            let offset = header.utf8.distance(from: header.startIndex, to: r.lowerBound)
            huge.replaceSubrange(offset..<(offset + 6), with: Array("(9999999999999, 99999999)".prefix(6).utf8))
        }
        XCTAssertThrowsError(try NPY.read(huge, name: "x"))
    }
}
