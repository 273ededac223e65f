import Foundation
import SRCore
import SRRuntime

// AttnLRP (Achtibat et al. 2024, "AttnLRP: Attention-aware layer-wise relevance propagation
// for transformers") and CP-LRP as LXT 2.1 computes them (docs/attnlrp-reference.md; LXT
// writes each rule as a modified gradient g and relevance as x·g; these are the same rules
// written on relevance).

/// `1/z` with z pushed away from 0 by `stabilizer` in the direction of its sign (zennit's
/// stabiliser; LXT divides by nothing, so the attention composites use a tiny one).
@inline(__always) func stabilizedInverse(_ z: Float, _ stabilizer: Float) -> Float {
    1 / (z + (z >= 0 ? stabilizer : -stabilizer))
}

/// Softmax by gradient × input (AttnLRP, and LXT's `softmax` left to autograd):
/// `R_in = x ⊙ (R − s ⊙ Σ_axis R)` with s the softmax output. Not conservative: the
/// `−x·s·ΣR` term leaks, as AttnLRP declares.
public struct SoftmaxRule: Rule {
    public var name: String { "softmax-gxi" }
    public init() {}

    public func applies(to op: Op) -> Bool {
        switch op {
        case .softmax: true
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .add, .mul, .max, .concat, .flatten, .reshape, .sigmoid, .tanh, .thresholdedRelu, .power,
             .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            false
        }
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { false }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        guard case .softmax(let axis) = c.node.op else { throw SRError.internalError("rule '\(name)' reached layer '\(c.node.name)'") }
        let shape = c.output.shape
        let n = shape[axis], inner = shape.suffix(from: axis + 1).reduce(1, *), outer = c.output.count / max(n * inner, 1)
        let out = Tensor(uninitialized: shape)
        let (x, s, r, o) = (c.inputs[0].pointer, c.output.pointer, c.signal.pointer, out.pointer)
        Parallel.forEach(outer * inner, minChunk: 64) { range in
            for t in range {
                let base = (t / inner) * n * inner + t % inner
                var total: Float = 0
                for k in 0..<n { total += r[base + k * inner] }
                for k in 0..<n {
                    let i = base + k * inner
                    o[i] = x[i] * (r[i] - s[i] * total)
                }
            }
        }
        return [out]
    }
}

/// Layer norm with its standard deviation as a constant and the centring kept (LXT's
/// `layer_norm_forward`): LRP-0 on the linear map `x ↦ (x − x̄)·w/σ`, per group of the
/// normalised axes, `R_in,i = x_i/σ · (w_i S_i − (1/n) Σ_j w_j S_j)`, `S = R / y`. The bias
/// keeps its share, so it conserves only without one.
public struct LayerNormRule: Rule {
    public var name: String { "layernorm-constant-std" }
    public let stabilizer: Float
    public init(stabilizer: Float) { self.stabilizer = stabilizer }

    public func applies(to op: Op) -> Bool {
        switch op {
        case .layerNorm: true
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .add, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu,
             .power, .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .matmul, .batchConstant, .resize:
            false
        }
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        guard case .layerNorm(let axis, let epsilon) = c.node.op else {
            throw SRError.internalError("rule '\(name)' reached layer '\(c.node.name)'")
        }
        let x = c.inputs[0]
        let n = x.shape.suffix(from: axis).reduce(1, *), groups = x.count / max(n, 1)
        let scale = c.graph.weight(c.node, "scale")
        let out = Tensor(uninitialized: x.shape)
        let (xp, yp, rp, o) = (x.pointer, c.output.pointer, c.signal.pointer, out.pointer)
        let w = scale?.pointer
        let stabilizer = self.stabilizer
        Parallel.forEach(groups, minChunk: 16) { range in
            for g in range {
                let base = g * n
                var mean = 0.0, variance = 0.0
                for i in 0..<n { mean += Double(xp[base + i]) }
                mean /= Double(n)
                for i in 0..<n { let d = Double(xp[base + i]) - mean; variance += d * d }
                let inverseStd = Float(1 / (variance / Double(n) + Double(epsilon)).squareRoot())
                var centred: Float = 0
                for i in 0..<n { centred += (w?[i] ?? 1) * rp[base + i] * stabilizedInverse(yp[base + i], stabilizer) }
                centred /= Float(n)
                for i in 0..<n {
                    let s = (w?[i] ?? 1) * rp[base + i] * stabilizedInverse(yp[base + i], stabilizer)
                    o[base + i] = xp[base + i] * inverseStd * (s - centred)
                }
            }
        }
        return [out]
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { graph.weight(node, "bias") == nil }
}

/// A product of two activations (`matmul`, attention's `q·kᵀ` and `A·v`). `uniform`:
/// AttnLRP's uniform rule, LRP-0 over the sum of products with each product's relevance
/// split evenly between its factors, `R_A = ½ A ⊙ (S·Bᵀ)`, `R_B = ½ B ⊙ (Aᵀ·S)`, `S = R / C`.
/// `constantAttention` (CP-LRP): an operand that a softmax produced is a constant, so the
/// other gets everything, `R_v = v ⊙ (Aᵀ·S)`, and nothing flows into the attention scores.
/// Both conserve.
public struct MatMulRule: Rule {
    public enum Kind: Sendable { case uniform, constantAttention }
    public let kind: Kind
    public let stabilizer: Float
    public var name: String { kind == .uniform ? "matmul-uniform" : "matmul-constant-attention" }
    public init(_ kind: Kind, stabilizer: Float) { self.kind = kind; self.stabilizer = stabilizer }

    public func applies(to op: Op) -> Bool {
        switch op {
        case .matmul: true
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .add, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu,
             .power, .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .batchConstant, .resize:
            false
        }
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        let stabilizer = self.stabilizer
        let s = zip3(c.signal, c.output) { r, z in r * stabilizedInverse(z, stabilizer) }
        let grads = try Gradient().backward(c.with(signal: s))
        var keep = [true, true]
        if kind == .constantAttention {
            keep = c.node.inputs.map { input in
                guard let producer = c.graph.nodes.first(where: { $0.outputs.contains(input) }), case .softmax = producer.op else { return true }
                return false
            }
        }
        let factor: Float = keep.allSatisfy { $0 } ? 0.5 : 1
        return zip(zip(grads, c.inputs), keep).map { pair, kept in
            guard kept, let g = pair.0 else { return nil }
            return zip3(g, pair.1) { gi, xi in factor * gi * xi }
        }
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { true }
}
