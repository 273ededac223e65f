/// A perturbation metric's result for one input.
public struct PerturbationCurve: Sendable, Equatable {
    /// The target's score before any perturbation, then after each step.
    public var curve: [Double]
    /// The area Quantus reports (`calculate_auc`: the trapezoid rule with dx = 1): for
    /// pixel-flipping over the scores after each step, for region-perturbation over the
    /// drops `curve[0] − curve[k]`, k ≥ 1; the unperturbed score is not a point of either.
    public var auc: Double
    /// The area over the perturbation curve of Samek et al. (2017), eq. 12:
    /// `1/(L+1) · Σ_{k=0…L} (curve[0] − curve[k])`, the unperturbed input included as k = 0.
    public var aopc: Double

    init(curve: [Double], aucOf points: [Double]) {
        self.curve = curve
        auc = Self.trapezoid(points)
        let start = curve.first ?? 0
        aopc = curve.reduce(0) { $0 + (start - $1) } / Double(max(curve.count, 1))
    }

    /// numpy's `trapezoid(y, dx=1)`.
    static func trapezoid(_ y: [Double]) -> Double {
        guard y.count > 1 else { return 0 }
        var s = 0.0
        for i in 1..<y.count { s += (y[i - 1] + y[i]) / 2 }
        return s
    }
}

/// Writes `values` to `out`.
func copy(_ values: [Float], to out: UnsafeMutablePointer<Float>) {
    values.withUnsafeBufferPointer { b in
        if let base = b.baseAddress { out.update(from: base, count: b.count) }
    }
}
