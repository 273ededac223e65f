import SRCore

/// How relevance is spread over one layer's output for one image (`inspect --layer --image`).
public struct RelevanceStatistics: Sendable, Encodable {
    public struct Channel: Sendable, Encodable {
        public var index: Int
        public var sum: Double
    }
    public var sum: Double
    public var positive: Double
    public var negative: Double
    /// Share of |R| that is positive, 0…1.
    public var positiveShare: Double
    /// Channels by Σ relevance, largest first (at most `top`).
    public var topChannels: [Channel]

    /// Statistics of image `n` of an `[N, C, …]` relevance tensor.
    public init(_ r: Tensor, image n: Int = 0, top: Int = 5) {
        let c = r.shape.count > 1 ? r.shape[1] : 1
        let per = r.count / max(r.shape.first ?? 1, 1)
        let plane = per / max(c, 1)
        var pos = 0.0, neg = 0.0
        var channels = [Double](repeating: 0, count: c)
        for i in 0..<per {
            let v = Double(r.pointer[n * per + i])
            if v > 0 { pos += v } else { neg += v }
            channels[i / max(plane, 1)] += v
        }
        sum = pos + neg
        positive = pos
        negative = neg
        positiveShare = pos - neg > 0 ? pos / (pos - neg) : 0
        topChannels = channels.indices.sorted { channels[$0] > channels[$1] }.prefix(top).map { Channel(index: $0, sum: channels[$0]) }
    }
}
