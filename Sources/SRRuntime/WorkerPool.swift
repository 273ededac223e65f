import CLinux
import Foundation
import Synchronization

/// The threads `Parallel`'s loops run on besides the caller's. A forward pass starts
/// hundreds of small loops back to back; waking a sleeping thread for each, as libdispatch
/// does, cost EfficientNet-B0 about a quarter of its time on two cores. A worker here waits
/// for its next loop by spinning a short while (`spinLimit`) and only then sleeps on its
/// own condition. Workers are started as loops first ask for them, and a loop wakes only
/// the ones it uses.
/// Shares are claimed, not assigned: the caller runs share 0, then every share no worker
/// has taken yet, so a loop does not wait for a worker that is slow to wake or whose core
/// the machine gave to another process (a shared or virtual machine's stolen time). A
/// share's range does not depend on the thread that runs it, so neither do the results.
/// One loop at a time: a loop started while another runs — from inside a loop's body, or
/// from a second thread — goes to libdispatch instead (`run` returns false).
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// One worker thread's mailbox.
    private final class Worker: @unchecked Sendable {
        /// Bumped once per loop this worker takes part in.
        let ticket = Atomic<Int>(0)
        /// Set while the worker sleeps on `wake`.
        let asleep = Atomic<Bool>(false)
        let wake = NSCondition()
    }

    /// More workers than this are never started (`Parallel.threads` is capped by the cores).
    private static let maxWorkers = 255
    /// Spins before a waiting thread sleeps or yields: a PAUSE takes ~45 ns on the development
    /// machine (AMD Zen 4), so about 0.2 ms.
    private static let spinLimit = 4_000

    private var workers: [Worker] = []
    /// The current loop: its number (bits 32 and up), its share count (bits 16..<32) and
    /// the next share nobody has claimed (bits 0..<16).
    private let claims = Atomic<Int>(0)
    /// Shares of the current loop finished.
    private let finished = Atomic<Int>(0)
    /// Loops run so far (the caller's, under `busy`).
    private var loops = 0
    /// Held by the thread running a loop.
    private let busy = Atomic<Bool>(false)
    /// The current loop's body, called with the share's index (0 is the caller's). Written
    /// before `claims` is published, read after a claim succeeds.
    private nonisolated(unsafe) var body: ((Int) -> Void)?

    private init() {}

    /// Starts `count` workers now (at most `maxWorkers`), so a timed pass does not pay for
    /// them; does nothing while a loop runs.
    func prepare(workers count: Int) {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        defer { busy.store(false, ordering: .releasing) }
        while workers.count < min(count, Self.maxWorkers) { start() }
    }

    /// Runs `body(0..<shares)`, share 0 on the caller and share w on worker w, and returns
    /// when every share is done; false (nothing run) when the pool is busy.
    func run(shares: Int, _ body: (Int) -> Void) -> Bool {
        guard shares - 1 <= Self.maxWorkers,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        while workers.count < shares - 1 { start() }
        withoutActuallyEscaping(body) { body in
            self.body = body
            loops += 1
            finished.store(0, ordering: .relaxed)
            claims.store((loops & 0xFFFF_FFFF) << 32 | shares << 16 | 1, ordering: .releasing)
            for worker in workers.prefix(shares - 1) {
                worker.ticket.wrappingAdd(1, ordering: .sequentiallyConsistent)
                if worker.asleep.load(ordering: .sequentiallyConsistent) {
                    worker.wake.lock()
                    worker.wake.signal()
                    worker.wake.unlock()
                }
            }
            body(0)
            var done = 1
            while let share = claim() {
                body(share)
                done += 1
            }
            finished.wrappingAdd(done, ordering: .relaxed)
            var spins = 0
            while finished.load(ordering: .acquiring) < shares {
                spins += 1
                if spins < Self.spinLimit { srlinux_cpu_relax() } else { sched_yield() }
            }
            self.body = nil
        }
        return true
    }

    /// The next share of the current loop nobody has claimed, now claimed; nil when every
    /// share is taken. A worker woken for a loop that has ended finds none.
    private func claim() -> Int? {
        var current = claims.load(ordering: .acquiring)
        while true {
            let next = current & 0xFFFF, shares = (current >> 16) & 0xFFFF
            guard next < shares else { return nil }
            let (exchanged, original) = claims.compareExchange(expected: current, desired: current + 1,
                                                               ordering: .acquiringAndReleasing)
            if exchanged { return next }
            current = original
        }
    }

    private func start() {
        let worker = Worker(), index = workers.count + 1
        workers.append(worker)
        let thread = Thread { [unowned self] in self.serve(worker) }
        thread.stackSize = 8 << 20
        thread.name = "srtool-worker-\(index)"
        thread.start()
    }

    private func serve(_ worker: Worker) {
        var seen = 0
        while true {
            var spins = 0
            while worker.ticket.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { srlinux_cpu_relax(); continue }
                // Sleep; the caller signals after bumping the ticket if it sees `asleep`,
                // and `asleep` is set before the ticket is read again, so no wake is lost.
                worker.wake.lock()
                worker.asleep.store(true, ordering: .sequentiallyConsistent)
                while worker.ticket.load(ordering: .sequentiallyConsistent) == seen { worker.wake.wait() }
                worker.asleep.store(false, ordering: .sequentiallyConsistent)
                worker.wake.unlock()
            }
            seen = worker.ticket.load(ordering: .acquiring)
            while let share = claim() {
                body?(share)
                finished.wrappingAdd(1, ordering: .releasing)
            }
        }
    }
}
