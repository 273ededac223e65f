/// Summary statistics of a tensor's values (`inspect --layer`), accumulated in Double.
public struct TensorStatistics: Sendable, Equatable, Codable {
    public var count: Int
    public var min: Float
    public var max: Float
    public var mean: Double
    public var std: Double
    /// Share of exact zeros, 0…1.
    public var zeros: Double
    /// Count of NaN and ±Inf values (excluded from the other figures).
    public var nonFinite: Int

    public init(_ t: Tensor) {
        var lo = Float.infinity, hi = -Float.infinity
        var sum = 0.0, sq = 0.0
        var zero = 0, bad = 0
        for v in t.buffer {
            guard v.isFinite else { bad += 1; continue }
            lo = Swift.min(lo, v); hi = Swift.max(hi, v)
            sum += Double(v); sq += Double(v) * Double(v)
            if v == 0 { zero += 1 }
        }
        let n = t.count - bad
        count = t.count
        min = n > 0 ? lo : .nan
        max = n > 0 ? hi : .nan
        mean = n > 0 ? sum / Double(n) : .nan
        std = n > 0 ? Swift.max(sq / Double(n) - mean * mean, 0).squareRoot() : .nan
        zeros = t.count > 0 ? Double(zero) / Double(t.count) : 0
        nonFinite = bad
    }
}

extension Tensor {
    /// How many values are NaN or ±Inf.
    public var nonFiniteCount: Int { buffer.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } }
}

extension Graph {
    /// Weights holding NaN or ±Inf, by name, with their counts (sorted by name).
    public func nonFiniteWeights() -> [(name: String, count: Int)] {
        weights.keys.sorted().compactMap { name in
            guard let t = weights[name] else { return nil }
            let n = t.nonFiniteCount
            return n > 0 ? (name, n) : nil
        }
    }
}
