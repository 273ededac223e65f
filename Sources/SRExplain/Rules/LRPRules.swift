import SRCore

/// The LRP rules for conv and linear layers, with zennit 0.5's terms and defaults
/// (`zennit/rules.py`), written in `ModifiedGradient+Terms.swift`'s vocabulary: each term is
/// the product it computes, each group a sum of terms sharing one denominator. `zeroBias`
/// drops the bias from every term of every group (zennit's `zero_params=['bias']`). The
/// stabiliser adds `ε·sign(z)` with sign(0) = +1.
public enum LRP {
    typealias Term = ModifiedGradient.Term
    typealias Terms = ModifiedGradient.Terms
    typealias Group = ModifiedGradient.Group

    /// ε-rule (LRP-0 for ε = 0): `R_i = x_i Σ_j w_ij R_j / (z_j + ε·sign z_j)`.
    public static func epsilon(_ epsilon: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        let z: Term = .input(.identity) * .weight(.identity) + .bias(.identity)
        return ModifiedGradient(name: "epsilon:\(epsilon)", groups: [Group(z)], stabilizer: epsilon, zeroBias: zeroBias)
    }

    /// z⁺-rule on signed inputs: positive contributions `x⁺·w⁺ + x⁻·w⁻` (+ b⁺). Where an
    /// output has no positive contribution at all (z⁺ = 0) yet relevance arrives — a
    /// depthwise conv over a ReLU's output feeding a linear bottleneck, whose signed inputs
    /// carry relevance back — zennit's z⁺ drops that relevance; here it goes to the
    /// negative contributions `x⁺·w⁻ + x⁻·w⁺` in proportion (they are all there is, and
    /// their shares sum to 1). Wherever z⁺ > 0 the rule is zennit's, to the bit.
    public static func zPlus(stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        let positive: Terms = .input(.positive) * .weight(.positive) + .bias(.positive) + .input(.negative) * .weight(.negative)
        let negative: Terms = .input(.positive) * .weight(.negative) + .input(.negative) * .weight(.positive)
        return ModifiedGradient(name: "zplus", groups: [Group(positive), Group(negative, where: .zero(positive))],
                                stabilizer: stabilizer, zeroBias: zeroBias)
    }

    /// αβ-rule (α − β = 1): α·(positive contributions) − β·(negative contributions), each
    /// normalised by its own sum.
    public static func alphaBeta(alpha: Float = 2, beta: Float = 1, stabilizer: Float = 1e-6,
                                 zeroBias: Bool = false) throws -> ModifiedGradient {
        guard alpha >= 0, beta >= 0, alpha - beta == 1 else {
            throw SRError.usage("alpha-beta needs α, β ≥ 0 and α − β = 1 (got α=\(alpha), β=\(beta))")
        }
        let positive: Terms = .input(.positive) * .weight(.positive) + .bias(.positive) + .input(.negative) * .weight(.negative)
        let negative: Terms = .input(.positive) * .weight(.negative) + .bias(.negative) + .input(.negative) * .weight(.positive)
        return ModifiedGradient(name: "alpha-beta:\(alpha):\(beta)",
                                groups: [Group(positive, scaled: alpha), Group(negative, scaled: -beta)],
                                stabilizer: stabilizer, zeroBias: zeroBias)
    }

    /// Generalised γ-rule: where the plain output is positive, favour positive
    /// contributions (`w + γw⁺` on x⁺, `w + γw⁻` on x⁻); where negative, the negative ones.
    public static func gamma(_ gamma: Float = 0.25, stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        let positive: Terms = .input(.positive) * .weight(.gammaPositive(gamma)) + .bias(.gammaPositive(gamma))
            + .input(.negative) * .weight(.gammaNegative(gamma))
        let negative: Terms = .input(.positive) * .weight(.gammaNegative(gamma)) + .bias(.gammaNegative(gamma))
            + .input(.negative) * .weight(.gammaPositive(gamma))
        let z: Term = .input(.identity) * .weight(.identity) + .bias(.identity)
        return ModifiedGradient(name: "gamma:\(gamma)",
                                groups: [Group(positive, where: .positive(z)), Group(negative, where: .negative(z))],
                                stabilizer: stabilizer, zeroBias: zeroBias)
    }

    /// z^B-rule for the input layer with pixel bounds `low`, `high` (per channel or one value):
    /// `z = Wx − W⁺l − W⁻h` (biases b − b⁺ − b⁻ cancel).
    public static func zBox(low: [Float], high: [Float], stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        let z: Term = .input(.identity) * .weight(.identity) + .bias(.identity)
        let lowest: Term = .input(.constant(low)) * .weight(.positive) + .bias(.positive)
        let highest: Term = .input(.constant(high)) * .weight(.negative) + .bias(.negative)
        return ModifiedGradient(name: "zbox", groups: [Group(z - lowest - highest)], stabilizer: stabilizer, zeroBias: zeroBias)
    }

    /// Flat: every weight 1, no bias, input 1 — relevance spread evenly over the receptive field.
    public static func flat(stabilizer: Float = 1e-6) -> ModifiedGradient {
        let z: Term = .input(.ones) * .weight(.one)
        return ModifiedGradient(name: "flat", groups: [Group(z)], stabilizer: stabilizer)
    }

    /// w²-rule: relevance split by squared weights (input 1; the bias squared too, as zennit).
    public static func wSquare(stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        let z: Term = .input(.ones) * .weight(.square) + .bias(.square)
        return ModifiedGradient(name: "wsquare", groups: [Group(z)], stabilizer: stabilizer, zeroBias: zeroBias)
    }
}
