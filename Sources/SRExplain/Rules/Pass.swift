import SRCore
import SRRuntime

/// zennit's `Pass`: relevance passes unchanged, `R_in = R_out`, through an op of one input
/// that maps each element to the element in its place (activations, batch norm left after
/// canonizing, layer norm, LRN) or only reshapes.
public struct Pass: Rule {
    public var name: String { "pass" }
    public init() {}

    public func applies(to op: Op) -> Bool {
        switch op {
        case .relu, .prelu, .sigmoid, .tanh, .thresholdedRelu, .power, .clip, .unary, .batchNorm, .scale, .layerNorm, .lrn,
             .identity, .flatten, .reshape:
            true
        case .conv2d, .convTranspose2d, .linear, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .add, .mul, .max,
             .concat, .softmax, .pad, .transpose, .reduce, .slice, .matmul, .batchConstant, .resize:
            false
        }
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        [try c.signal.reshaped(c.inputs[0].shape)]
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { true }
}

/// zennit's `Norm`: `R_i = x_i ⊙ ∂y/∂x_i · R / stab(y)` — relevance split in proportion to
/// each input's share (sums, average pooling).
public struct Norm: Rule {
    public var name: String { "norm" }
    public let stabilizer: Float
    public init(stabilizer: Float = 1e-6) { self.stabilizer = stabilizer }

    /// Sums and averages: the linear maps without weights, through which it conserves.
    public func applies(to op: Op) -> Bool {
        switch op {
        case .add, .avgPool2d, .globalAvgPool: true
        case .reduce(let a): a.kind == .sum || a.kind == .mean
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .globalMaxPool, .lrn, .batchNorm, .scale, .mul,
             .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu, .power, .clip, .pad, .identity,
             .transpose, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            false
        }
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        let eps = stabilizer
        let s = zip3(c.signal, c.output) { r, y in r / (y + (y >= 0 ? eps : -eps)) }
        let grads = try Gradient().backward(c.with(signal: s))
        return zip(grads, c.inputs).map { g, x in g.map { zip3($0, x, *) } }
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { true }
}

/// ReLU rules of the gradient family: guided backprop keeps the forward mask and the
/// positive part of the signal; deconvnet only the positive part (zennit `ReLUGuidedBackprop`,
/// `ReLUDeconvNet`).
public struct ReLURule: Rule {
    public enum Kind: Sendable { case guided, deconvnet }
    public let kind: Kind
    public var name: String { kind == .guided ? "guided-relu" : "deconvnet-relu" }
    public init(_ kind: Kind) { self.kind = kind }

    public func applies(to op: Op) -> Bool {
        switch op {
        case .relu: true
        case .conv2d, .convTranspose2d, .linear, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .add, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu,
             .power, .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            false
        }
    }

    /// A gradient, not relevance.
    public func conserves(at node: Node, in graph: Graph) -> Bool { false }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        guard case .relu(let slope) = c.node.op else { throw SRError.internalError("rule '\(name)' reached layer '\(c.node.name)'") }
        switch kind {
        case .guided:
            // The ReLU's gradient, passed only where the incoming signal is positive.
            return [Kernels.reluBackward(c.signal, input: c.inputs[0], slope: slope, guided: true)]
        case .deconvnet:
            return [Kernels.positivePart(c.signal)]
        }
    }
}

/// Element-wise products (`mul`): a gate — a factor computed from a globally pooled signal,
/// such as a squeeze-and-excitation gate `σ(W·pool(x))` (`PooledGates`), or failing that a
/// factor broadcast over the product — is treated as a constant, so all relevance stays
/// with the other factors (issue #15's default; the identity rule on the gate's sigmoid
/// explodes). Those share it evenly: AttnLRP's uniform rule for a product of activations
/// (Achtibat et al. 2024, "AttnLRP: Attention-aware layer-wise relevance propagation for
/// transformers", eq. 13), `R_i = R / n`. Either way every bit of relevance is passed on.
public struct ProductRule: Rule {
    public var name: String { "product" }
    /// The inputs known to be gates (from the graph); empty: gates are the broadcast factors.
    let gates: Set<Int>

    public init(gates: Set<Int> = []) { self.gates = gates }

    public func applies(to op: Op) -> Bool {
        switch op {
        case .mul: true
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .add, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu, .power,
             .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            false
        }
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        let receives = c.inputs.indices.map { k in gates.isEmpty ? c.inputs[k].shape == c.signal.shape : !gates.contains(k) }
        let n = receives.filter { $0 }.count
        guard n > 0 else { return try Gradient().backward(c) }  // every factor broadcast
        let share = n == 1 ? c.signal : Kernels.map(c.signal) { $0 / Float(n) }
        return receives.map { $0 ? share : nil }
    }

    public func conserves(at node: Node, in graph: Graph) -> Bool { true }
}
