import Foundation

/// Complexity (Bhatt et al. 2020) as Quantus 0.6.0's `Complexity`: the entropy of the
/// fractional contributions p_i = |R_i| / Σ|R|, −Σ p_i ln(p_i + 1e-12), over the pixels.
/// Lower is simpler. An all-zero map has none (NaN, as Quantus' 0/0).
public enum Complexity {
    public static func score(_ map: PixelMap) -> Double {
        let total = map.values.reduce(0) { $0 + abs($1) }
        return -map.values.reduce(0.0) { s, r in
            let p = abs(r) / total
            return s + p * log(p + 1e-12)
        }
    }
}
