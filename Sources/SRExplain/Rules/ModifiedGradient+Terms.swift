import SRCore

// The vocabulary `LRPRules.swift` writes rules in, zennit's `BasicHook` arguments as values:
// a *term* is the layer run on a modified input with modified parameters (one entry of
// zennit's `input_modifiers` and `param_modifiers`), written as the product it computes,
// `.input(.positive) * .weight(.positive) + .bias(.positive)` for `z = x⁺·W⁺ + b⁺`; a
// *group* is a signed sum of terms that share one denominator (`gradient_mapper`) and the
// share of the relevance its terms pass on (`reducer`).

extension ModifiedGradient {
    /// The input a term feeds the layer.
    public enum InputModifier: Sendable, Hashable {
        case identity, positive, negative, ones
        /// A constant per channel (length C) or for all (length 1): z^B's bounds.
        case constant([Float])
    }

    /// An elementwise change of the weight or bias.
    public enum ParamModifier: Sendable, Hashable {
        case identity, positive, negative, zero, one, square
        /// `p + γ·clamp(p, min: 0)` or `p + γ·clamp(p, max: 0)`.
        case gammaPositive(Float), gammaNegative(Float)

        func apply(_ p: Float) -> Float {
            switch self {
            case .identity: p
            case .positive: max(p, 0)
            case .negative: min(p, 0)
            case .zero: 0
            case .one: 1
            case .square: p * p
            case .gammaPositive(let g): p + g * max(p, 0)
            case .gammaNegative(let g): p + g * min(p, 0)
            }
        }
    }

    /// `.input(m)`: the left factor of a term.
    public struct InputFactor: Sendable {
        let modifier: InputModifier
        public static func input(_ m: InputModifier) -> InputFactor { InputFactor(modifier: m) }

        /// `x' · W'`: a term without bias.
        public static func * (input: InputFactor, weight: WeightFactor) -> Term {
            Term(input: input.modifier, weight: weight.modifier, bias: .zero)
        }
    }

    /// `.weight(m)`: the right factor of a term.
    public struct WeightFactor: Sendable {
        let modifier: ParamModifier
        public static func weight(_ m: ParamModifier) -> WeightFactor { WeightFactor(modifier: m) }
    }

    /// `.bias(m)`: what a term adds; a term written without one has no bias.
    public struct AddedBias: Sendable {
        let modifier: ParamModifier
        public static func bias(_ m: ParamModifier) -> AddedBias { AddedBias(modifier: m) }
    }

    /// One run of the layer, `z = f(x'; ρ(W), ρ(b))`.
    public struct Term: Sendable, Hashable {
        public var input: InputModifier
        public var weight: ParamModifier
        public var bias: ParamModifier

        /// The term with its bias dropped (zennit's `zero_params=['bias']`).
        var withoutBias: Term { Term(input: input, weight: weight, bias: .zero) }

        /// `x' · W' + b'`.
        public static func + (term: Term, bias: AddedBias) -> Term {
            Term(input: term.input, weight: term.weight, bias: bias.modifier)
        }

        public static func + (a: Term, b: Term) -> Terms { Terms(a) + b }
        public static func - (a: Term, b: Term) -> Terms { Terms(a) - b }
    }

    /// A signed sum of terms, `Σ_k s_k z_k` (s = ±1), in the order written.
    public struct Terms: Sendable, Hashable {
        public var parts: [SignedTerm]

        public init(_ term: Term) { parts = [SignedTerm(term: term, sign: 1)] }
        init(parts: [SignedTerm]) { self.parts = parts }

        public static func + (a: Terms, b: Term) -> Terms { Terms(parts: a.parts + [SignedTerm(term: b, sign: 1)]) }
        public static func - (a: Terms, b: Term) -> Terms { Terms(parts: a.parts + [SignedTerm(term: b, sign: -1)]) }
    }

    public struct SignedTerm: Sendable, Hashable {
        public var term: Term
        public var sign: Float
    }

    /// Where a group passes relevance on; everywhere else its share is 0.
    public enum Condition: Sendable, Hashable {
        /// Where the term's output is > 0, or < 0 (γ: by the sign of the unmodified output).
        case positive(Term), negative(Term)
        /// Where the sum is exactly 0 (z⁺'s fallback: where the positive contributions had
        /// nothing to divide by).
        case zero(Terms)
    }

    /// Terms sharing one denominator: with `S = coefficient · R / stab(Σ_k s_k z_k)` (0 where
    /// `condition` fails), term k passes on `s_k · x'_k ⊙ ∂z_k/∂x'_k · S`.
    public struct Group: Sendable {
        public var terms: Terms
        /// The group's weight in the sum of the groups: α, −β, or 1.
        public var coefficient: Float
        public var condition: Condition?

        public init(_ terms: Terms, scaled coefficient: Float = 1, where condition: Condition? = nil) {
            self.terms = terms; self.coefficient = coefficient; self.condition = condition
        }

        public init(_ term: Term, scaled coefficient: Float = 1, where condition: Condition? = nil) {
            self.init(Terms(term), scaled: coefficient, where: condition)
        }

        /// The group with the bias dropped from its terms (a condition on one term's sign
        /// keeps that term's bias, as zennit's γ keeps its unmodified output's).
        var withoutBias: Group {
            func drop(_ t: Terms) -> Terms { Terms(parts: t.parts.map { SignedTerm(term: $0.term.withoutBias, sign: $0.sign) }) }
            var g = self
            g.terms = drop(terms)
            if case .zero(let t) = condition { g.condition = .zero(drop(t)) }
            return g
        }
    }
}
