import Dispatch

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
    /// How many values are NaN or ±Inf: float32s whose exponent bits are all ones, counted
    /// branch-free in 16 M-element chunks spread over the cores (for a memory-mapped model
    /// this is also where its pages are first read).
    public var nonFiniteCount: Int {
        let n = count, chunk = 1 << 24
        let chunks = (n + chunk - 1) / chunk
        let bits = UnsafeRawPointer(storage.base).assumingMemoryBound(to: UInt32.self)
        func scan(_ p: UnsafePointer<UInt32>, _ m: Int) -> Int {
            var c: UInt32 = 0
            for i in 0..<m { c &+= (((p[i] &>> 23) & 0xff) &+ 1) &>> 8 }
            return Int(c)
        }
        guard chunks > 1 else { return scan(bits, n) }
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
        defer { counts.deallocate() }
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            counts[i] = scan(bits + i * chunk, Swift.min(chunk, n - i * chunk))
        }
        return counts.reduce(0, +)
    }
}

extension Graph {
    /// Weights holding NaN or ±Inf, by name, with their counts (sorted by name).
    public func nonFiniteWeights() -> [(name: String, count: Int)] {
        let names = weights.keys.sorted()
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: names.count)
        defer { counts.deallocate() }
        DispatchQueue.concurrentPerform(iterations: names.count) { i in counts[i] = weights[names[i]]?.nonFiniteCount ?? 0 }
        return names.indices.compactMap { counts[$0] > 0 ? (names[$0], counts[$0]) : nil }
    }
}
