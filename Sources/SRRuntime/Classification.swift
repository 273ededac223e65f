import Foundation
import SRCore

/// One ranked class of a prediction.
public struct RankedClass: Sendable, Equatable {
    public var index: Int
    public var score: Float
    public var probability: Float
}

public enum Classification {
    /// The `k` best classes of each row of `[N, classes]` scores. Probabilities are the
    /// softmax of the scores, unless the scores already are probabilities (a graph ending
    /// in softmax), which `isProbability` says.
    public static func top(_ scores: Tensor, k: Int, isProbability: Bool) throws -> [[RankedClass]] {
        guard scores.rank >= 2, let n = scores.shape.first else {
            throw SRError.usage("the model output has shape \(scores.shape), not [N, classes]")
        }
        let classes = scores.count / max(n, 1)
        guard scores.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw SRError.usage("the model output has shape \(scores.shape), not [N, classes]")
        }
        return (0..<n).map { i in
            let row = Array(UnsafeBufferPointer(start: scores.pointer + i * classes, count: classes))
            let probs: [Float]
            if isProbability { probs = row } else {
                let m = row.max() ?? 0
                let e = row.map { expf($0 - m) }
                let s = e.reduce(0, +)
                probs = e.map { $0 / s }
            }
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
            return order.prefix(k).map { RankedClass(index: $0, score: row[$0], probability: probs[$0]) }
        }
    }
}
