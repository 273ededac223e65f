/// The sum of the `k` smallest of a stream of values, without keeping the stream. A value
/// is kept only when it is below `bound`; when 4k are kept, a quickselect leaves the k
/// smallest and `bound` becomes the largest of them. After the first few hundred values
/// almost none pass, so a row of thousands costs one comparison per value. A value equal to
/// `bound` is dropped: the k smallest then hold that value already, so the sum is the same.
/// One per worker; `reset` before each row.
final class SmallestSum {
    let k: Int
    private(set) var bound = Float.infinity
    private let buffer: UnsafeMutablePointer<Float>
    private let capacity: Int
    private var count = 0

    init(k: Int) {
        self.k = k
        capacity = max(4 * k, 1)
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    func reset() {
        bound = .infinity
        count = 0
    }

    /// Keeps `v` (the caller has checked `v < bound`).
    @inline(__always)
    func add(_ v: Float) {
        buffer[count] = v
        count += 1
        if count == capacity { shrink() }
    }

    private func shrink() {
        selectSmallest(buffer, count: count, k: k)
        count = k
        var largest = -Float.infinity
        for i in 0..<k { largest = max(largest, buffer[i]) }
        bound = largest
    }

    /// Σ of the k smallest values seen (of all of them when fewer came), in float64.
    func sum() -> Double {
        let n = min(k, count)
        if n < count { selectSmallest(buffer, count: count, k: n) }
        var s = 0.0
        for i in 0..<n { s += Double(buffer[i]) }
        return s
    }
}

/// Reorders `p[0..<count]` so its first `k` are the k smallest (Hoare quickselect).
func selectSmallest(_ p: UnsafeMutablePointer<Float>, count: Int, k: Int) {
    guard k > 0, k < count else { return }
    var lo = 0, hi = count - 1
    while lo < hi {
        let pivot = p[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while p[i] < pivot { i += 1 }
            while p[j] > pivot { j -= 1 }
            if i <= j { (p[i], p[j]) = (p[j], p[i]); i += 1; j -= 1 }
        }
        if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { break }
    }
}
