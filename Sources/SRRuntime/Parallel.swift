import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks run on up to `Parallel.threads` cores: on the
/// caller and `WorkerPool`'s threads, or through libdispatch when the pool is taken.
public enum Parallel {
    /// The cores a loop may use: bound for a scope by `Parallel.using` (an `Executor` binds
    /// its own count around each call, so two executors with different counts can run side
    /// by side); unbound, every core. Loops inside a worker see the unbound value.
    @TaskLocal public static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Multiply-adds a direct convolution loop (depthwise, a narrow first layer, the
    /// depthwise input gradient) needs before a second worker pays: the pool's workers spin
    /// between loops, so handing one a share costs a few microseconds. ShuffleNetV2's
    /// depthwise layers of 0.1–0.25 M multiply-adds on 14×14 and 7×7 maps, once left to one
    /// worker below 2^18, took its forward pass 3.1–3.3 → 2.9–3.0 ms on two threads.
    public static let directLoopWork = 1 << 16

    /// `body` with loops limited to `threads` cores.
    public static func using<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        try $threads.withValue(max(threads, 1), operation: body)
    }

    /// Like `forEach`, also passing the worker's index (0..<threads) for per-worker buffers.
    public static func forEachWorker(_ count: Int, workers limit: Int? = nil, _ body: (Int, Range<Int>) -> Void) {
        let workers = min(limit ?? threads, threads, max(1, count))
        if workers <= 1 { body(0, 0..<count); return }
        split(count, workers) { w, range in body(w, range) }
    }

    /// Starts the worker threads now (a first parallel loop would pay for that inside a
    /// timed forward pass).
    public static func startWorkers() {
        if threads > 1 { WorkerPool.shared.prepare(workers: threads - 1) }
    }

    public static func forEach(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let workers = min(threads, max(1, count / max(minChunk, 1)))
        if workers <= 1 { body(0..<count); return }
        split(count, workers) { _, range in body(range) }
    }

    /// `0..<count` in `workers` contiguous shares, share w on worker w.
    private static func split(_ count: Int, _ workers: Int, _ body: (Int, Range<Int>) -> Void) {
        let share = { (w: Int) in
            let lo = count * w / workers, hi = count * (w + 1) / workers
            if lo < hi { body(w, lo..<hi) }
        }
        if !WorkerPool.shared.run(shares: workers, share) {
            DispatchQueue.concurrentPerform(iterations: workers, execute: share)
        }
    }
}
