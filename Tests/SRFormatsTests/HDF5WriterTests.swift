import Foundation
import SRCore
import SRFormats
import SRTestSupport
import XCTest

/// `HDF5Writer` against `HDF5File`: rows written in pieces read back as written, integers
/// as uint32, and the same calls give the same bytes (no timestamps). That h5py and
/// ViRelAy read these files is checked by Tools/check_virelay.py.
final class HDF5WriterTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "srtool-hdf5writer-\(getpid())"

    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func write(_ path: String, pieces: [Range<Int>]) throws {
        let h5 = try HDF5Writer(path: path)
        try h5.create("x", shape: [5, 2, 3], element: .float32)
        try h5.create("i", shape: [5], element: .uint32)
        try h5.setAttribute("note", "ünïcode")
        let values = (0..<30).map { Float($0) * 0.5 - 3 }
        let ids: [UInt32] = [7, 0, 4_000_000_000, 3, 1]
        for r in pieces {
            try values.withUnsafeBufferPointer { try h5.write("x", rows: r.lowerBound, count: r.count, element: .float32, from: $0.baseAddress! + r.lowerBound * 6) }
            try ids.withUnsafeBufferPointer { try h5.write("i", rows: r.lowerBound, count: r.count, element: .uint32, from: $0.baseAddress! + r.lowerBound) }
        }
        try h5.close()
    }

    func testRowsRoundTripAndEqualCallsGiveEqualBytes() throws {
        try write(dir + "/a.h5", pieces: [0..<2, 2..<5])
        try write(dir + "/b.h5", pieces: [0..<1, 1..<4, 4..<5])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.h5")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.h5")))
        let f = try HDF5File(path: dir + "/a.h5")
        XCTAssertEqual(try f.datasetInfo("x")?.shape, [5, 2, 3])
        XCTAssertEqual(try f.datasetInfo("i")?.isInteger, true)
        let x = Tensor(uninitialized: [3, 2, 3])
        try f.readRows("x", rows: 2, count: 3, element: .float32, into: x.pointer)
        XCTAssertEqual(x.values, (12..<30).map { Float($0) * 0.5 - 3 })
        var ids = [UInt32](repeating: 0, count: 5)
        try f.readRows("i", rows: 0, count: 5, element: .uint32, into: &ids)
        XCTAssertEqual(ids, [7, 0, 4_000_000_000, 3, 1])
        XCTAssertEqual(try f.stringsAttribute("note"), ["ünïcode"])
        XCTAssertThrowsError(try f.readRows("x", rows: 4, count: 2, element: .float32, into: x.pointer))
        XCTAssertThrowsError(try f.readRows("i", rows: 0, count: 1, element: .float32, into: x.pointer))
    }
}
