import Foundation

/// The mean of per-sample scores and its 95 % confidence interval, mean ± t(0.975, n−1) ·
/// s / √n (Student's t; s the sample standard deviation). NaN scores (an empty mask) are
/// left out; fewer than two scores have no interval.
public struct Interval: Sendable, Equatable {
    public var mean: Double
    public var halfWidth: Double
    public var count: Int

    public init(_ scores: [Double]) {
        let v = scores.filter { !$0.isNaN }
        count = v.count
        mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
        guard v.count > 1 else { halfWidth = .nan; return }
        let m = mean
        let s = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
        halfWidth = Self.t975(v.count - 1) * s / Double(v.count).squareRoot()
    }

    /// The 0.975 quantile of Student's t with `df` degrees of freedom (tabulated to 30,
    /// then the normal approximation with its first correction term).
    static func t975(_ df: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        if df >= 1 && df <= table.count { return table[df - 1] }
        let z = 1.959964
        return z + (z * z * z + z) / (4 * Double(df))
    }
}
