import Foundation

/// The metrics' randomness (uniform baselines, ROAD's imputation noise): a 64-bit LCG as
/// SmoothGrad's, seeded by `--seed`. Quantus draws from numpy's global generator, so
/// srtool matches it in distribution, not draw for draw.
public struct SeededRandom: Sendable {
    private var state: UInt64
    private var spare: Double?

    public init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1 }

    /// U[0, 1).
    public mutating func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }

    /// N(0, 1) (Box–Muller).
    public mutating func gaussian() -> Double {
        if let s = spare { spare = nil; return s }
        let r = (-2 * log(1 - uniform())).squareRoot(), t = 2 * Double.pi * uniform()
        spare = r * sin(t)
        return r * cos(t)
    }
}
