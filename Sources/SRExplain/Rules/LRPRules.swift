import SRCore

/// The LRP rules for conv and linear layers, with zennit 0.5's terms and defaults
/// (`zennit/rules.py`). `zeroBias` drops the bias from every term (zennit's
/// `zero_params=['bias']`). The stabiliser adds `ε·sign(z)` with sign(0) = +1.
public enum LRP {
    typealias T = ModifiedGradient.Term
    typealias G = ModifiedGradient.Group

    private static func bias(_ m: ModifiedGradient.ParamModifier, _ zeroBias: Bool) -> ModifiedGradient.ParamModifier {
        zeroBias ? .zero : m
    }

    /// ε-rule (LRP-0 for ε = 0): `R_i = x_i Σ_j w_ij R_j / (z_j + ε·sign z_j)`.
    public static func epsilon(_ epsilon: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        ModifiedGradient(name: "epsilon:\(epsilon)",
                         terms: [T(input: .identity, weight: .identity, bias: bias(.identity, zeroBias))],
                         groups: [G(denominator: [(0, 1)], gate: nil, contributors: [(0, 1)])], stabilizer: epsilon)
    }

    /// z⁺-rule on signed inputs: positive contributions `x⁺·w⁺ + x⁻·w⁻` (+ b⁺). Where an
    /// output has no positive contribution at all (z⁺ = 0) yet relevance arrives — a
    /// depthwise conv over a ReLU's output feeding a linear bottleneck, whose signed inputs
    /// carry relevance back — zennit's z⁺ drops that relevance; here it goes to the
    /// negative contributions `x⁺·w⁻ + x⁻·w⁺` in proportion (they are all there is, and
    /// their shares sum to 1). Wherever z⁺ > 0 the rule is zennit's, to the bit.
    public static func zPlus(stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        ModifiedGradient(name: "zplus",
                         terms: [T(input: .positive, weight: .positive, bias: bias(.positive, zeroBias)),
                                 T(input: .negative, weight: .negative, bias: .zero),
                                 T(input: .positive, weight: .negative, bias: .zero),
                                 T(input: .negative, weight: .positive, bias: .zero)],
                         groups: [G(denominator: [(0, 1), (1, 1)], gate: nil, contributors: [(0, 1), (1, 1)]),
                                  G(denominator: [(2, 1), (3, 1)], gate: nil, contributors: [(2, 1), (3, 1)], whereEmpty: 0)],
                         stabilizer: stabilizer)
    }

    /// αβ-rule (α − β = 1): α·(positive contributions) − β·(negative contributions), each
    /// normalised by its own sum.
    public static func alphaBeta(alpha: Float = 2, beta: Float = 1, stabilizer: Float = 1e-6,
                                 zeroBias: Bool = false) throws -> ModifiedGradient {
        guard alpha >= 0, beta >= 0, alpha - beta == 1 else {
            throw SRError.usage("alpha-beta needs α, β ≥ 0 and α − β = 1 (got α=\(alpha), β=\(beta))")
        }
        return ModifiedGradient(
            name: "alpha-beta:\(alpha):\(beta)",
            terms: [T(input: .positive, weight: .positive, bias: bias(.positive, zeroBias)),
                    T(input: .negative, weight: .negative, bias: .zero),
                    T(input: .positive, weight: .negative, bias: bias(.negative, zeroBias)),
                    T(input: .negative, weight: .positive, bias: .zero)],
            groups: [G(denominator: [(0, 1), (1, 1)], gate: nil, contributors: [(0, alpha), (1, alpha)]),
                     G(denominator: [(2, 1), (3, 1)], gate: nil, contributors: [(2, -beta), (3, -beta)])],
            stabilizer: stabilizer)
    }

    /// Generalised γ-rule: where the plain output is positive, favour positive
    /// contributions (`w + γw⁺` on x⁺, `w + γw⁻` on x⁻); where negative, the negative ones.
    public static func gamma(_ gamma: Float = 0.25, stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        ModifiedGradient(
            name: "gamma:\(gamma)",
            terms: [T(input: .positive, weight: .gammaPositive(gamma), bias: bias(.gammaPositive(gamma), zeroBias)),
                    T(input: .negative, weight: .gammaNegative(gamma), bias: .zero),
                    T(input: .positive, weight: .gammaNegative(gamma), bias: bias(.gammaNegative(gamma), zeroBias)),
                    T(input: .negative, weight: .gammaPositive(gamma), bias: .zero),
                    T(input: .identity, weight: .identity, bias: .identity)],
            groups: [G(denominator: [(0, 1), (1, 1)], gate: (4, true), contributors: [(0, 1), (1, 1)]),
                     G(denominator: [(2, 1), (3, 1)], gate: (4, false), contributors: [(2, 1), (3, 1)])],
            stabilizer: stabilizer)
    }

    /// z^B-rule for the input layer with pixel bounds `low`, `high` (per channel or one value):
    /// `z = Wx − W⁺l − W⁻h` (biases b − b⁺ − b⁻ cancel).
    public static func zBox(low: [Float], high: [Float], stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        ModifiedGradient(
            name: "zbox",
            terms: [T(input: .identity, weight: .identity, bias: bias(.identity, zeroBias)),
                    T(input: .constant(low), weight: .positive, bias: bias(.positive, zeroBias)),
                    T(input: .constant(high), weight: .negative, bias: bias(.negative, zeroBias))],
            groups: [G(denominator: [(0, 1), (1, -1), (2, -1)], gate: nil, contributors: [(0, 1), (1, -1), (2, -1)])],
            stabilizer: stabilizer)
    }

    /// Flat: every weight 1, no bias, input 1 — relevance spread evenly over the receptive field.
    public static func flat(stabilizer: Float = 1e-6) -> ModifiedGradient {
        ModifiedGradient(name: "flat", terms: [T(input: .ones, weight: .one, bias: .zero)],
                         groups: [G(denominator: [(0, 1)], gate: nil, contributors: [(0, 1)])], stabilizer: stabilizer)
    }

    /// w²-rule: relevance split by squared weights (input 1; the bias squared too, as zennit).
    public static func wSquare(stabilizer: Float = 1e-6, zeroBias: Bool = false) -> ModifiedGradient {
        ModifiedGradient(name: "wsquare", terms: [T(input: .ones, weight: .square, bias: bias(.square, zeroBias))],
                         groups: [G(denominator: [(0, 1)], gate: nil, contributors: [(0, 1)])], stabilizer: stabilizer)
    }
}
