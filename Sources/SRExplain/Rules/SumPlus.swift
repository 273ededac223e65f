import SRCore
import SRRuntime

/// Sums split by their positive parts — z⁺ for additions: `R_i = x_i⁺ / Σ_j x_j⁺ · R`; where
/// no summand is positive, `R_i = x_i⁻ / Σ_j x_j⁻ · R`. zennit's `Norm` (`R_i = x_i / Σ_j x_j · R`)
/// gives a residual addition of opposite-signed tensors (pre-activation ResNets: the
/// shortcut and the branch) shares far outside [0, 1]; the two paths then carry large
/// relevance of opposite signs, and every bias they meet absorbs a share of it (Keras
/// ResNet50V2: input relevance 1.7× the score, ±10× inside the blocks). Here every share
/// lies in [0, 1] and the shares sum to 1: it conserves and cannot amplify. Not a zennit
/// rule: `--sum-rule norm-plus`, or `--rule LAYER=norm-plus`.
public struct SumPlus: Rule {
    public var name: String { "norm-plus" }
    public let stabilizer: Float
    public init(stabilizer: Float = 1e-6) { self.stabilizer = stabilizer }

    /// Element-wise additions (broadcasting).
    public func applies(to op: Op) -> Bool {
        switch op {
        case .add: true
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu, .power,
             .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            false
        }
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { true }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        let positive = c.inputs.map(Kernels.positivePart)
        let negative = c.inputs.map(Kernels.negativePart)
        let p = Kernels.combine(positive, outShape: c.output.shape, .add)
        let n = Kernels.combine(negative, outShape: c.output.shape, .add)
        // The relevance per unit of positive (negative) sum; the negative group only where
        // the positive sum is 0, and not computed at all where that never happens (the usual case).
        let up = Tensor(uninitialized: c.signal.shape), un = Tensor(uninitialized: c.signal.shape)
        var fallback = false
        for i in 0..<c.signal.count {
            let r = c.signal.pointer[i], sp = p.pointer[i], sn = n.pointer[i]
            up.pointer[i] = sp > 0 ? r / (sp + stabilizer) : 0
            un.pointer[i] = sp > 0 || !(sn < 0) ? 0 : r / (sn - stabilizer)
            if un.pointer[i] != 0 { fallback = true }
        }
        // The add's gradient sums each share over the axes an input was broadcast along.
        let toPositive = try Gradient().backward(c.with(signal: up))
        let toNegative = fallback ? try Gradient().backward(c.with(signal: un)) : nil
        return c.inputs.indices.map { k in
            guard let gp = toPositive[k] else { return nil }
            let r = Tensor(uninitialized: c.inputs[k].shape)
            let (rp, xp, gpp) = (r.pointer, positive[k].pointer, gp.pointer)
            for i in 0..<r.count { rp[i] = xp[i] * gpp[i] }
            if let gn = toNegative?[k] {
                for i in 0..<r.count { rp[i] += negative[k].pointer[i] * gn.pointer[i] }
            }
            return r
        }
    }
}
