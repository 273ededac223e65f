import Foundation

/// Freed tensor buffers of 1 MiB or more, kept for the next allocation of the same size.
/// A fresh large allocation is a new mapping whose every page the kernel zeroes on first
/// touch: 11 % of VGG-16's LRP time at batch 8 went to `clear_page` before this pool. The
/// forward and backward passes allocate the same shapes over and over, so exact sizes
/// (rounded up to 4 KiB) hit. At most `capacity` bytes are kept; the least recently
/// freed buffers are released first.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool(capacity: min(2 << 30, Int(ProcessInfo.processInfo.physicalMemory / 16)))
    static let smallest = 1 << 20

    private let lock = NSLock()
    private let capacity: Int
    /// Oldest first: (rounded byte count, buffer).
    private var kept: [(bytes: Int, buffer: UnsafeMutableRawPointer)] = []
    private var total = 0
    /// False once `bypass` is called: every buffer goes straight to the heap.
    private var enabled = true

    init(capacity: Int) { self.capacity = capacity }

    /// The byte count a buffer of `bytes` is allocated and matched with.
    static func rounded(_ bytes: Int) -> Int { bytes >= smallest ? (bytes + 4095) & ~4095 : bytes }

    /// A kept buffer of exactly `bytes` (already rounded), or nil.
    func take(_ bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= Self.smallest else { return nil }
        lock.lock(); defer { lock.unlock() }
        guard enabled, let i = kept.lastIndex(where: { $0.bytes == bytes }) else { return nil }
        total -= bytes
        return kept.remove(at: i).buffer
    }

    /// Keeps `buffer` of `bytes` (rounded) for reuse, or frees it.
    func give(_ buffer: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= Self.smallest, bytes <= capacity else { free(buffer); return }
        var released: [UnsafeMutableRawPointer] = []
        lock.lock()
        guard enabled else { lock.unlock(); free(buffer); return }
        while total + bytes > capacity, !kept.isEmpty {
            let oldest = kept.removeFirst()
            total -= oldest.bytes
            released.append(oldest.buffer)
        }
        kept.append((bytes, buffer))
        total += bytes
        lock.unlock()
        for b in released { free(b) }
    }

    /// Frees every kept buffer and keeps none from now on: for a process that runs forward
    /// passes only, once glibc keeps freed memory in its heap (`LinuxSystem.keepFreedMemory`).
    /// The heap gives the next allocation of any size the memory freed last, still in cache,
    /// where this pool gives a layer's output the buffer of its size freed one whole pass
    /// before (writing a large output to memory that has left the cache took MobileNetV2's
    /// 112×112 expansion 0.94 ms against 0.36 in cache, with its 96-run store order then);
    /// and the heap's reuse across sizes lowers the peak (DenseNet-121 138 → 117 MB).
    /// Explanations keep the pool: without it EfficientNet-B0's LRP took 0.098 s instead of
    /// 0.069 s.
    func bypass() {
        lock.lock()
        enabled = false
        lock.unlock()
        releaseAll()
    }

    /// Frees every kept buffer.
    func releaseAll() {
        lock.lock()
        let all = kept
        kept = []
        total = 0
        lock.unlock()
        for k in all { free(k.buffer) }
    }
}
