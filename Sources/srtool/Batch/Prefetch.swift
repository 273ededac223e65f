import Foundation

/// Produces items `0 ..< count` on a thread of its own, at most `ahead` of them before
/// the consumer takes them: the next batch of images is decoded while the network runs on
/// this one, and memory holds no more than `ahead + 1` batches.
final class Prefetch<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var ready: [Int: Item] = [:]
    private var stopped = false

    init(count: Int, ahead: Int = 1, _ make: @escaping @Sendable (Int) -> Item) {
        let thread = Thread { [self] in
            for k in 0..<count {
                condition.lock()
                while ready.count >= ahead && !stopped { condition.wait() }
                let stop = stopped
                condition.unlock()
                if stop { return }
                let item = make(k)
                condition.lock()
                ready[k] = item
                condition.broadcast()
                condition.unlock()
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Item `k`, in order, waiting for it if needed.
    func take(_ k: Int) -> Item {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let item = ready.removeValue(forKey: k) {
                condition.broadcast()
                return item
            }
            condition.wait()
        }
    }

    /// Lets the producer end early.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
