import Foundation
import SRCore
import SRRuntime

/// zennit's `BasicHook` for conv and linear layers (Montavon et al. 2019, "Layer-wise
/// relevance propagation: an overview", eq. 1–4): each *term* k runs the layer on a
/// modified input with modified parameters, `z_k = f(x'_k; ρ_k(W), ρ_k(b))`; each *group*
/// divides the incoming relevance by its stabilised denominator `Σ ±z_k` (optionally gated by
/// the sign of a term's output), and `R_in = Σ_k coef_k · x'_k ⊙ ∂z_k/∂x'_k · g_k`.
public struct ModifiedGradient: Rule {
    /// The input a term feeds the layer.
    public enum InputModifier: Sendable, Equatable {
        case identity, positive, negative, ones
        /// A constant per channel (length C) or for all (length 1): ZBox bounds.
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

    public struct Term: Sendable {
        var input: InputModifier
        var weight: ParamModifier
        var bias: ParamModifier
    }

    public struct Group: Sendable {
        /// Terms summed (with sign) into the denominator.
        var denominator: [(term: Int, sign: Float)]
        /// Keep only positions where this term's output is > 0 (`.positive`) or < 0.
        var gate: (term: Int, positive: Bool)?
        /// Terms receiving this group's gradient, with their reducer coefficient.
        var contributors: [(term: Int, coefficient: Float)]
        /// Only where that (earlier) group's denominator is exactly 0 — it had nothing to
        /// divide the relevance by — does this group pass relevance on (z⁺'s fallback).
        var whereEmpty: Int? = nil
    }

    public let name: String
    let terms: [Term]
    /// True when no term that enters a denominator uses the bias.
    public var zeroesBias: Bool {
        let used = Set(groups.flatMap { $0.denominator.map(\.term) })
        return used.allSatisfy { terms[$0].bias == .zero }
    }
    let groups: [Group]
    let stabilizer: Float

    /// Conserves where every group's denominator is the sum of what its contributors
    /// receive and holds no net bias: the bias terms cancel for any bias (flat has none,
    /// z^B's `b − b⁺ − b⁻` is 0), the layer has no bias, or every bias term is dropped.
    public func conserves(at node: Node, in graph: Graph) -> Bool {
        biasCancels || graph.weight(node, "bias") == nil || zeroesBias
    }

    /// Whether the bias terms of each denominator add up to zero whatever the bias: the
    /// coefficients of `b`, `b⁺` and `b⁻` satisfy `c_b + c_b⁺ = 0` and `c_b + c_b⁻ = 0`, and
    /// no other bias form (1, b²) enters.
    var biasCancels: Bool {
        groups.allSatisfy { g in
            var (plain, positive, negative) = (Float(0), Float(0), Float(0))
            for (term, sign) in g.denominator {
                switch terms[term].bias {
                case .identity: plain += sign
                case .positive: positive += sign
                case .negative: negative += sign
                case .zero: continue
                case .one, .square, .gammaPositive, .gammaNegative: return false
                }
            }
            return plain + positive == 0 && plain + negative == 0
        }
    }

    /// A term's input: the layer input itself, all zeros, or a modified copy.
    private enum TermInput {
        case same, zero, tensor(Tensor)
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        let x = c.inputs[0]
        let weight = try c.weight("weight")
        let nonNegative = !x.buffer.contains { $0 < 0 }
        let inputs = terms.map { modified(x, $0.input, nonNegative: nonNegative) }
        let weights = try terms.map { t in try c.cache.tensor(c.node.name, "w", t.weight) { modify(weight, t.weight) } }
        let biases = try terms.map { t -> Tensor? in
            guard let b = c.bias, t.bias != .zero else { return nil }
            return try c.cache.tensor(c.node.name, "b", t.bias) { modify(b, t.bias) }
        }
        // A term whose input is all zero and whose bias is zero contributes nothing.
        let live = terms.indices.map { k in
            if case .zero = inputs[k] { return biases[k] != nil }
            return true
        }
        func tensor(_ k: Int) -> Tensor {
            switch inputs[k] {
            case .same: return x
            case .zero: return Tensor(zeros: x.shape)
            case .tensor(let t): return t
            }
        }
        var outputs = [Tensor?](repeating: nil, count: terms.count)
        func output(_ k: Int) -> Tensor? {
            guard live[k] else { return nil }
            if let z = outputs[k] { return z }
            let t = terms[k]
            // The unmodified term is the forward pass's own output.
            let z = t.input == .identity && t.weight == .identity && t.bias == .identity
                ? c.output : forward(c, tensor(k), weights[k], biases[k])
            outputs[k] = z
            return z
        }
        var relevance: Tensor?
        let count = c.signal.count
        var denominators: [Tensor] = []
        for group in groups {
            // A fallback group costs nothing where its condition never holds (the usual case).
            let empty = group.whereEmpty.map { denominators[$0].pointer }
            if let empty {
                let sp = c.signal.pointer
                guard (0..<count).contains(where: { empty[$0] == 0 && sp[$0] != 0 }) else {
                    denominators.append(Tensor(zeros: [1]))
                    continue
                }
            }
            let den = Tensor(zeros: c.signal.shape)
            denominators.append(den)
            for (k, sign) in group.denominator {
                guard let z = output(k) else { continue }
                let d = den.pointer, zp = z.pointer
                Parallel.forEach(count, minChunk: 1 << 15) { r in for i in r { d[i] += sign * zp[i] } }
            }
            let g = Tensor(uninitialized: c.signal.shape)
            let gate = group.gate.flatMap { gt in output(gt.term).map { ($0.pointer, gt.positive) } }
            let (gp, sp, dp, eps) = (g.pointer, c.signal.pointer, den.pointer, stabilizer)
            Parallel.forEach(count, minChunk: 1 << 15) { r in
                for i in r {
                    let d = dp[i]
                    var v = sp[i] / (d + (d >= 0 ? eps : -eps))
                    if let (z, positive) = gate, positive ? !(z[i] > 0) : !(z[i] < 0) { v = 0 }
                    if let empty, empty[i] != 0 { v = 0 }
                    gp[i] = v
                }
            }
            for (k, coefficient) in group.contributors where live[k] {
                let back = backwardData(c, g, weights[k], inShape: x.shape)
                let first = relevance == nil
                let r = relevance ?? Tensor(uninitialized: x.shape)
                let (rp, xp, bp) = (r.pointer, tensor(k).pointer, back.pointer)
                Parallel.forEach(r.count, minChunk: 1 << 15) { range in
                    if first {
                        for i in range { rp[i] = coefficient * xp[i] * bp[i] }
                    } else {
                        for i in range { rp[i] += coefficient * xp[i] * bp[i] }
                    }
                }
                relevance = r
            }
        }
        return [relevance ?? Tensor(zeros: x.shape)]
    }

    /// The input a term feeds the layer (`x⁺` of a non-negative input is the input itself).
    private func modified(_ x: Tensor, _ m: InputModifier, nonNegative: Bool) -> TermInput {
        switch m {
        case .identity: return .same
        case .positive: return nonNegative ? .same : .tensor(Kernels.map(x) { max($0, 0) })
        case .negative: return nonNegative ? .zero : .tensor(Kernels.map(x) { min($0, 0) })
        case .ones: return .tensor(Kernels.map(x) { _ in 1 })
        case .constant(let v):
            let c = x.shape[1], plane = x.count / max(x.shape[0] * c, 1)
            let t = Tensor(uninitialized: x.shape)
            for i in 0..<x.count { t.pointer[i] = v.count == 1 ? v[0] : v[(i / plane) % c] }
            return .tensor(t)
        }
    }

    private func modify(_ t: Tensor, _ m: ParamModifier) -> Tensor {
        m == .identity ? t : Kernels.map(t) { m.apply($0) }
    }


    private func forward(_ c: RuleContext, _ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        switch c.node.op {
        case .conv2d(let a): return Kernels.conv2d(x, weight: w, bias: b, a, outShape: c.output.shape, scratch: c.scratch)
        default: return Kernels.linear(x, weight: w, bias: b)
        }
    }

    private func backwardData(_ c: RuleContext, _ g: Tensor, _ w: Tensor, inShape: [Int]) -> Tensor {
        switch c.node.op {
        case .conv2d(let a): return Kernels.conv2dBackwardData(g, weight: w, a, inShape: inShape, scratch: c.scratch)
        default: return Kernels.linearBackwardData(g, weight: w)
        }
    }
}

/// Modified weights and biases, computed once per node and modifier and reused across
/// explanations.
public final class ModifiedWeightCache: @unchecked Sendable {
    private var tensors: [String: Tensor] = [:]
    private let lock = NSLock()
    public init() {}

    func tensor(_ node: String, _ role: String, _ m: ModifiedGradient.ParamModifier,
                _ make: () throws -> Tensor) throws -> Tensor {
        if m == .identity { return try make() }
        let key = "\(node)\u{0}\(role)\u{0}\(m)"
        lock.lock(); defer { lock.unlock() }
        if let t = tensors[key] { return t }
        let t = try make()
        tensors[key] = t
        return t
    }
}
