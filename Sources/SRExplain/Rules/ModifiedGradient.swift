import Foundation
import SRCore
import SRRuntime

/// zennit's `BasicHook` for conv and linear layers (Montavon et al. 2019, "Layer-wise
/// relevance propagation: an overview", eq. 1–4): each *term* runs the layer on a modified
/// input with modified parameters, `z_k = f(x'_k; ρ_k(W), ρ_k(b))`; each *group* divides the
/// incoming relevance by its stabilised denominator `Σ_k s_k z_k` (where its condition
/// holds), and `R_in = Σ_groups coefficient · Σ_k s_k · x'_k ⊙ ∂z_k/∂x'_k · R / stab(Σ s z)`.
/// The terms and groups are written in `ModifiedGradient+Terms.swift`'s vocabulary
/// (`LRPRules.swift`).
public struct ModifiedGradient: Rule {
    public let name: String
    let groups: [Group]
    let stabilizer: Float

    /// `zeroBias` drops the bias from every term of every group (zennit's
    /// `zero_params=['bias']`).
    public init(name: String, groups: [Group], stabilizer: Float, zeroBias: Bool = false) {
        self.name = name
        self.groups = zeroBias ? groups.map(\.withoutBias) : groups
        self.stabilizer = stabilizer
    }

    /// The layers these rules explain.
    enum Layer {
        case conv(Conv2DAttributes), linear

        init?(_ op: Op) {
            switch op {
            case .conv2d(let a): self = .conv(a)
            case .linear: self = .linear
            case .convTranspose2d, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn, .batchNorm,
                 .scale, .add, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu, .power,
                 .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
                return nil
            }
        }
    }

    public func applies(to op: Op) -> Bool { Layer(op) != nil }

    /// True when no term that enters a denominator uses the bias.
    public var zeroesBias: Bool {
        groups.allSatisfy { $0.terms.parts.allSatisfy { $0.term.bias == .zero } }
    }

    /// Conserves where every group's denominator is the sum of what its terms pass on and
    /// holds no net bias: the bias terms cancel for any bias (flat has none, z^B's
    /// `b − b⁺ − b⁻` is 0), the layer has no bias, or every bias term is dropped.
    public func conserves(at node: Node, in graph: Graph) -> Bool {
        biasCancels || graph.weight(node, "bias") == nil || zeroesBias
    }

    /// Whether the bias terms of each denominator add up to zero whatever the bias: the
    /// coefficients of `b`, `b⁺` and `b⁻` satisfy `c_b + c_b⁺ = 0` and `c_b + c_b⁻ = 0`, and
    /// no other bias form (1, b²) enters.
    var biasCancels: Bool {
        groups.allSatisfy { g in
            var (plain, positive, negative) = (Float(0), Float(0), Float(0))
            for part in g.terms.parts {
                switch part.term.bias {
                case .identity: plain += part.sign
                case .positive: positive += part.sign
                case .negative: negative += part.sign
                case .zero: continue
                case .one, .square, .gammaPositive, .gammaNegative: return false
                }
            }
            return plain + positive == 0 && plain + negative == 0
        }
    }

    /// The sign a group's condition asks of a term's output or a sum.
    private enum Sign {
        case positive, negative, zero
    }

    /// A term's input: the layer input itself, all zeros, or a modified copy.
    private enum ModifiedInput {
        case same, zero, tensor(Tensor)
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        guard let layer = Layer(c.node.op) else {
            throw SRError.internalError("rule '\(name)' reached layer '\(c.node.name)' (\(c.node.op.name))")
        }
        let x = c.inputs[0]
        let weight = try c.weight("weight")
        let nonNegative = !x.buffer.contains { $0 < 0 }
        var inputs: [InputModifier: ModifiedInput] = [:]
        func input(_ t: Term) -> ModifiedInput {
            if let i = inputs[t.input] { return i }
            let i = modified(x, t.input, nonNegative: nonNegative)
            inputs[t.input] = i
            return i
        }
        func tensor(_ t: Term) -> Tensor {
            switch input(t) {
            case .same: return x
            case .zero: return Tensor(zeros: x.shape)
            case .tensor(let m): return m
            }
        }
        func weights(_ t: Term) throws -> Tensor {
            try c.cache.tensor(c.node.name, "w", t.weight) { modify(weight, t.weight) }
        }
        func bias(_ t: Term) throws -> Tensor? {
            guard let b = c.bias, t.bias != .zero else { return nil }
            return try c.cache.tensor(c.node.name, "b", t.bias) { modify(b, t.bias) }
        }
        // A term whose input is all zero and whose bias is zero contributes nothing.
        func live(_ t: Term) throws -> Bool {
            if case .zero = input(t) { return try bias(t) != nil }
            return true
        }
        var outputs: [Term: Tensor] = [:]
        func output(_ t: Term) throws -> Tensor {
            if let z = outputs[t] { return z }
            // The unmodified term is the forward pass's own output.
            let z = t.input == .identity && t.weight == .identity && t.bias == .identity
                ? c.output : forward(c, layer, tensor(t), try weights(t), try bias(t), modified: t.weight != .identity)
            outputs[t] = z
            return z
        }
        let count = c.signal.count
        var denominators: [Terms: Tensor] = [:]
        /// `Σ_k s_k z_k`, unstabilised.
        func denominator(_ terms: Terms) throws -> Tensor {
            if let d = denominators[terms] { return d }
            let parts = try terms.parts.filter { try live($0.term) }
            // One term with sign +1 (ε, z⁺, γ's positive part alone): its output as it is.
            if parts.count == 1, parts[0].sign == 1 {
                let z = try output(parts[0].term)
                denominators[terms] = z
                return z
            }
            let den = Tensor(zeros: c.signal.shape)
            for part in parts {
                let (d, zp, sign) = (den.pointer, try output(part.term).pointer, part.sign)
                Parallel.forEach(count, minChunk: 1 << 15) { r in for i in r { d[i] += sign * zp[i] } }
            }
            denominators[terms] = den
            return den
        }
        var relevance: Tensor?
        for group in groups {
            // Where a group passes relevance on: a term's sign, or an empty sum (a fallback
            // group, which costs nothing where its condition never holds — the usual case).
            let keep: (values: UnsafeMutablePointer<Float>, sign: Sign)?
            switch group.condition {
            case nil: keep = nil
            case .positive(let t): keep = (try output(t).pointer, .positive)
            case .negative(let t): keep = (try output(t).pointer, .negative)
            case .zero(let terms):
                let empty = try denominator(terms).pointer, sp = c.signal.pointer
                guard (0..<count).contains(where: { empty[$0] == 0 && sp[$0] != 0 }) else { continue }
                keep = (empty, .zero)
            }
            let den = try denominator(group.terms)
            let g = Tensor(uninitialized: c.signal.shape)
            let (gp, sp, dp, eps) = (g.pointer, c.signal.pointer, den.pointer, stabilizer)
            // One loop per condition, each free of branches (so it runs eight lanes wide).
            Parallel.forEach(count, minChunk: 1 << 15) { r in
                switch keep {
                case nil:
                    for i in r { let d = dp[i]; gp[i] = sp[i] / (d + (d >= 0 ? eps : -eps)) }
                case let (z, .positive)?:
                    for i in r { let d = dp[i], v = sp[i] / (d + (d >= 0 ? eps : -eps)); gp[i] = z[i] > 0 ? v : 0 }
                case let (z, .negative)?:
                    for i in r { let d = dp[i], v = sp[i] / (d + (d >= 0 ? eps : -eps)); gp[i] = z[i] < 0 ? v : 0 }
                case let (z, .zero)?:
                    for i in r { let d = dp[i], v = sp[i] / (d + (d >= 0 ? eps : -eps)); gp[i] = z[i] == 0 ? v : 0 }
                }
            }
            for part in group.terms.parts where try live(part.term) {
                let back = backwardData(c, layer, g, try weights(part.term), inShape: x.shape)
                let first = relevance == nil
                let r = relevance ?? Tensor(uninitialized: x.shape)
                let (rp, xp, bp, coefficient) = (r.pointer, tensor(part.term).pointer, back.pointer, group.coefficient * part.sign)
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
    private func modified(_ x: Tensor, _ m: InputModifier, nonNegative: Bool) -> ModifiedInput {
        switch m {
        case .identity: return .same
        case .positive: return nonNegative ? .same : .tensor(Kernels.positivePart(x))
        case .negative: return nonNegative ? .zero : .tensor(Kernels.negativePart(x))
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

    /// z of a term; a conv's `modified` weights (a copy of the layer's each) without a packed
    /// copy besides (`Kernels.conv2d(packedWeights:)`).
    private func forward(_ c: RuleContext, _ layer: Layer, _ x: Tensor, _ w: Tensor, _ b: Tensor?, modified: Bool) -> Tensor {
        switch layer {
        case .conv(let a):
            Kernels.conv2d(x, weight: w, bias: b, a, outShape: c.output.shape, scratch: c.scratch, packedWeights: !modified)
        case .linear: Kernels.linear(x, weight: w, bias: b)
        }
    }

    private func backwardData(_ c: RuleContext, _ layer: Layer, _ g: Tensor, _ w: Tensor, inShape: [Int]) -> Tensor {
        switch layer {
        case .conv(let a): Kernels.conv2dBackwardData(g, weight: w, a, inShape: inShape, scratch: c.scratch, winograd: .f4x4)
        case .linear: Kernels.linearBackwardData(g, weight: w)
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
