import Foundation
import SRRuntime
import Synchronization
import XCTest

/// `Parallel`'s loops on the worker pool, whose shares any thread may claim: every share runs
/// exactly once with its own range, loop after loop, whether the workers spin, sleep or are
/// busy elsewhere, and a loop inside a loop still runs every share.
final class ParallelTests: XCTestCase {
    /// Loops of 1…6 shares back to back and after pauses long enough for the workers to
    /// sleep: each share index once per loop, the ranges contiguous, disjoint and complete.
    func testEveryShareRunsOnceWithItsRange() {
        let runs = Mutex<[(share: Int, range: Range<Int>)]>([])
        for threads in 1...6 {
            for round in 0..<60 {
                let count = 7 + round % 50
                runs.withLock { $0 = [] }
                Parallel.using(threads) {
                    Parallel.forEachWorker(count) { share, range in
                        // Uneven work, so the fast threads claim the shares still open.
                        if (share + round) % 3 == 0 { usleep(UInt32(50 + 30 * share)) }
                        runs.withLock { $0.append((share, range)) }
                    }
                }
                let got = runs.withLock { $0 }.sorted { $0.share < $1.share }
                let shares = min(threads, count)
                XCTAssertEqual(got.map(\.share), Array(0..<shares), "\(threads) threads, round \(round)")
                XCTAssertEqual(got.flatMap { Array($0.range) }, Array(0..<count), "\(threads) threads, round \(round)")
                for (share, range) in got {
                    XCTAssertEqual(range, (count * share / shares)..<(count * (share + 1) / shares), "share \(share)")
                }
                // Every tenth round, long enough for the workers to stop spinning and sleep.
                if round % 10 == 9 { usleep(2_000) }
            }
        }
    }

    /// A loop started inside a share (the pool is busy) and loops from two threads at once:
    /// each inner element once.
    func testNestedAndConcurrentLoopsRunEveryElement() {
        let hits = Mutex<[Int]>(Array(repeating: 0, count: 4 * 100))
        Parallel.using(4) {
            Parallel.forEach(4) { outer in
                for o in outer {
                    Parallel.forEach(100) { inner in
                        hits.withLock { h in for i in inner { h[o * 100 + i] += 1 } }
                    }
                }
            }
        }
        XCTAssertEqual(hits.withLock { $0 }, Array(repeating: 1, count: 400))
        let sums = Mutex<[Int]>([0, 0])
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<200 {
                Parallel.using(2) {
                    Parallel.forEach(1000, minChunk: 10) { r in sums.withLock { $0[caller] += r.reduce(0, +) } }
                }
            }
        }
        XCTAssertEqual(sums.withLock { $0 }, [200 * 499_500, 200 * 499_500])
    }
}
