import XCTest
@testable import SRCore

/// The pool behind large tensor buffers: exact sizes reused, the oldest released past its
/// capacity, small buffers never kept, nothing kept once bypassed, and tensors still zeroed
/// when asked.
final class BufferPoolTests: XCTestCase {
    private func buffer(_ bytes: Int) throws -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer?
        XCTAssertEqual(posix_memalign(&raw, 64, bytes), 0)
        return try XCTUnwrap(raw)
    }

    func testExactSizesAreReusedAndTheOldestGoFirst() throws {
        let mib = 1 << 20
        let pool = BufferPool(capacity: 4 * mib)
        let a = try buffer(mib), b = try buffer(2 * mib), c = try buffer(2 * mib), d = try buffer(2 * mib)
        pool.give(a, bytes: mib)
        pool.give(b, bytes: 2 * mib)
        XCTAssertNil(pool.take(3 * mib), "no buffer of that size")
        XCTAssertEqual(pool.take(2 * mib), b)
        pool.give(b, bytes: 2 * mib)
        pool.give(c, bytes: 2 * mib)  // 5 MiB > 4: the oldest, a, is released
        XCTAssertNil(pool.take(mib))
        pool.give(d, bytes: 2 * mib)  // 6 MiB > 4: then b
        XCTAssertEqual(pool.take(2 * mib), d, "the most recently freed of a size first")
        XCTAssertEqual(pool.take(2 * mib), c)
        XCTAssertNil(pool.take(2 * mib))
        free(c); free(d)
    }

    /// After `bypass` (forward-only processes) the kept buffers are released and every freed
    /// one goes back to the heap.
    func testABypassedPoolKeepsNothing() throws {
        let mib = 1 << 20
        let pool = BufferPool(capacity: 4 * mib)
        pool.give(try buffer(mib), bytes: mib)
        pool.bypass()
        XCTAssertNil(pool.take(mib), "released by the bypass")
        pool.give(try buffer(2 * mib), bytes: 2 * mib)
        XCTAssertNil(pool.take(2 * mib), "freed, not kept")
    }

    func testSmallBuffersAreNotKept() throws {
        let pool = BufferPool(capacity: 1 << 30)
        pool.give(try buffer(4096), bytes: 4096)
        XCTAssertNil(pool.take(4096))
        XCTAssertEqual(BufferPool.rounded(4097), 4097)
        XCTAssertEqual(BufferPool.rounded((1 << 20) + 1), (1 << 20) + 4096)
    }

    func testAReusedBufferIsZeroedWhenAskedFor() {
        let count = 1 << 19  // 2 MiB of floats: pooled
        do {
            let dirty = TensorStorage(uninitializedCount: count)
            for i in 0..<count { dirty.base[i] = 7 }
        }
        let clean = TensorStorage(count: count)
        XCTAssertTrue((0..<count).allSatisfy { clean.base[$0] == 0 })
    }
}
