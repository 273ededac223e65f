/// The sum (in float64) and the largest of the `k` smallest of `p[0..<count]` (of all of
/// them when fewer are given), reordering `p`.
func smallestSum(_ p: UnsafeMutablePointer<Float>, count: Int, k: Int) -> (sum: Double, largest: Float) {
    let n = min(k, count)
    if n < count { selectSmallest(p, count: count, k: n) }
    var sum = 0.0, largest = -Float.infinity
    for i in 0..<n {
        sum += Double(p[i])
        largest = max(largest, p[i])
    }
    return (sum, largest)
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
