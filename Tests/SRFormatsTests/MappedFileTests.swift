import Foundation
import SRCore
import SRFormats
import XCTest

/// `MappedFile.releasePages`: what a repacked weight's pages go through.
final class MappedFileTests: XCTestCase {
    /// Released pages read the same bytes again (faulted in from the file), over a range
    /// that starts and ends inside pages and one that reaches past the map's end.
    func testReleasedPagesReadTheSameBytesAgain() throws {
        let path = NSTemporaryDirectory() + "srtool-mapped-\(getpid()).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Data((0..<(5 * 4096 + 123)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })
        try bytes.write(to: URL(fileURLWithPath: path))
        let file = try MappedFile(path: path)
        let base = try XCTUnwrap(file.base)
        XCTAssertEqual(Data(file.bytes), bytes)
        file.releasePages(base + 1000, byteCount: 3 * 4096)
        XCTAssertEqual(Data(file.bytes), bytes)
        file.releasePages(base + 4096, byteCount: 10 * 4096)
        XCTAssertEqual(Data(file.bytes), bytes)
    }
}
