/// Sparseness (Chalasani et al. 2020) as Quantus 0.6.0's `Sparseness`: the Gini index of
/// v = |R| / max|R| + 1e-7 over the pixels (Quantus: abs and normalise on, the 1e-7 added
/// after both), Σ_i (2i − n − 1) v_(i) / (n Σ v) with v sorted ascending, i = 1…n. Higher
/// is sparser. Quantus normalises by the maximum over everything one call is given, so
/// there a sample's score shifts (through the 1e-7) with its batch-mates; srtool
/// normalises each sample by its own maximum, as Quantus does when given one sample.
public enum Sparseness {
    public static func score(_ map: PixelMap) -> Double {
        let m = map.values.reduce(0) { max($0, abs($1)) }
        let v = map.values.map { (m > 0 ? abs($0) / m : abs($0)) + 1e-7 }.sorted()
        let n = Double(v.count)
        var numerator = 0.0
        for (i, x) in v.enumerated() { numerator += (2 * Double(i + 1) - n - 1) * x }
        return numerator / (n * v.reduce(0, +))
    }
}
