import Foundation

/// Contiguous float32 memory behind a `Tensor`: either owned (64-byte aligned, freed on
/// deinit) or borrowed from an owner that keeps it alive (a memory-mapped file).
/// Borrowed memory may be read-only: kernels never write to their inputs.
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    /// The owned buffer's size as allocated (`BufferPool.rounded`), 0 when borrowed.
    private let allocated: Int

    /// Zero-filled owned storage of `count` floats.
    public convenience init(count: Int) {
        self.init(uninitializedCount: count)
        memset(base, 0, max(count, 1) * MemoryLayout<Float>.stride)
    }

    /// What happens when an allocation fails, which the run budget (`RunBudget`) should
    /// have prevented: by default a fatal error; the CLI sets one error line and exit 71.
    nonisolated(unsafe) public static var outOfMemory: (_ bytes: Int) -> Never = { bytes in
        fatalError("out of memory allocating \(bytes) bytes")
    }

    /// Owned storage whose contents are undefined: for outputs a kernel writes in full.
    /// Large buffers come from `BufferPool` when one of the size was freed.
    public init(uninitializedCount count: Int) {
        let (exact, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, exact < Int.max - 4096 else { Self.outOfMemory(.max) }
        let bytes = BufferPool.rounded(exact)
        var raw = BufferPool.shared.take(bytes)
        // Failing, the kept buffers are released and the allocation tried once more (an
        // address-space limit counts them).
        if raw == nil, posix_memalign(&raw, 64, bytes) != 0 || raw == nil {
            BufferPool.shared.releaseAll()
            guard posix_memalign(&raw, 64, bytes) == 0 else { Self.outOfMemory(exact) }
        }
        guard let raw else { Self.outOfMemory(exact) }
        self.base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.owner = nil
        self.allocated = bytes
    }

    /// Whether the memory lives inside an owner (a memory-mapped file) rather than here.
    public var isBorrowed: Bool { owner != nil }

    /// Whether `releasePages` can give this borrowed memory's pages back: its owner is a
    /// read-only file mapping (`PageReleasing`).
    public var canReleasePages: Bool { owner is PageReleasing }

    /// Gives back the whole pages of floats `range` of this borrowed memory, for a caller
    /// that has copied them and will not read them again (a weight being repacked); the
    /// owner reads them from its file again should anything touch them. Nothing for owned
    /// memory.
    public func releasePages(_ range: Range<Int>) {
        guard range.lowerBound >= 0, range.upperBound <= count else { return }
        (owner as? PageReleasing)?.releasePages(UnsafeRawPointer(base + range.lowerBound),
                                                byteCount: range.count * MemoryLayout<Float>.stride)
    }

    /// Storage living inside `owner` (which must stay valid while this object lives).
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
        self.allocated = 0
    }

    deinit {
        if owner == nil { BufferPool.shared.give(UnsafeMutableRawPointer(base), bytes: allocated) }
    }
}

/// An owner of borrowed tensor memory whose pages can be dropped from the process and read
/// again on demand (a read-only file mapping, `MappedFile`).
public protocol PageReleasing: AnyObject {
    /// Drops the whole pages inside `byteCount` bytes from `start`; the pages at either end,
    /// shared with neighbouring data, stay.
    func releasePages(_ start: UnsafeRawPointer, byteCount: Int)
}
