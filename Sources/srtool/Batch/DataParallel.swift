import Dispatch
import Foundation
import SRCore
import SRExplain

/// A batch explained by several one-thread workers side by side, each on its share of the
/// rows, instead of one worker whose kernels split every layer: small layers, element-wise
/// chains and the single-threaded parts of a backward pass then keep every core busy. Each
/// worker has its own explainer (its plans, scratch and rule caches); the weights are shared.
/// A sample's result depends on the share it ran in, as it depends on `--batch` and
/// `--threads` otherwise: shards agree when they run the same command.
struct DataParallel {
    let workers: [MethodRunner]

    /// Networks below this many multiply-accumulates per image run data-parallel.
    static let maxMACs = 1_000_000_000

    /// The rows of `x` in `workers.count` contiguous shares (the first ones one row longer).
    static func shares(_ rows: Int, _ workers: Int) -> [Range<Int>] {
        let w = max(1, min(workers, rows)), base = rows / w, extra = rows % w
        var lo = 0
        return (0..<w).map { k in
            let n = base + (k < extra ? 1 : 0)
            defer { lo += n }
            return lo..<(lo + n)
        }
    }

    /// The one map per image, its display form, the scores and the classes explained.
    func run(_ x: Tensor, target: Target) throws -> (raw: Tensor, display: Tensor, scores: Tensor, targets: [Int]) {
        let parts = Self.shares(x.shape[0], workers.count)
        let results = Results(parts.count)
        DispatchQueue.concurrentPerform(iterations: parts.count) { k in
            let rows = parts[k]
            results.set(k, Result {
                let t: Target
                if case .each(let all) = target { t = .each(Array(all[rows])) } else { t = target }
                let r = try workers[k].run(try Self.rows(x, rows), target: t)
                guard r.maps.count == 1 else {
                    throw SRError.usage("--method \(workers[k].method.name) gave \(r.maps.count) maps per image; batch writes one (choose one --layer)")
                }
                return r
            })
        }
        let done = try results.values.map { r in
            guard let r else { throw SRError.internalError("a batch worker gave no result") }
            return try r.get()
        }
        return (try Self.concatenate(done.map { $0.maps[0].raw }), try Self.concatenate(done.map { $0.maps[0].display }),
                try Self.concatenate(done.map { $0.classified.scores }), done.flatMap { $0.classified.targets })
    }

    /// Rows `range` of `x` (a copy).
    static func rows(_ x: Tensor, _ range: Range<Int>) throws -> Tensor {
        let per = x.count / max(x.shape[0], 1)
        let out = Tensor(uninitialized: [range.count] + x.shape.dropFirst())
        out.pointer.update(from: x.pointer + range.lowerBound * per, count: range.count * per)
        return out
    }

    /// Tensors of the same trailing shape, one after another along the first axis.
    static func concatenate(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw SRError.internalError("nothing to concatenate") }
        if parts.count == 1 { return first }
        let out = Tensor(uninitialized: [parts.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst())
        var at = 0
        for p in parts {
            out.pointer.advanced(by: at).update(from: p.pointer, count: p.count)
            at += p.count
        }
        return out
    }

    /// Each worker's result, written from its own thread.
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [Result<MethodResult, Error>?]
        init(_ n: Int) { values = Array(repeating: nil, count: n) }
        func set(_ k: Int, _ r: Result<MethodResult, Error>) { lock.lock(); values[k] = r; lock.unlock() }
    }
}
