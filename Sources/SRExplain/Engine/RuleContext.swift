import SRCore
import SRRuntime

/// What a rule sees at one node: the forward values and the signal (gradient or
/// relevance) arriving at the node's output.
public struct RuleContext {
    public let node: Node
    public let graph: Graph
    /// Forward activations of the node's inputs (NCHW).
    public let inputs: [Tensor]
    /// Forward output of the node.
    public let output: Tensor
    /// Gradient or relevance at the output, shaped like `output`.
    public let signal: Tensor
    let scratch: Scratch
    let cache: ModifiedWeightCache

    public func weight(_ role: String) throws -> Tensor {
        guard let t = graph.weight(node, role) else {
            // Only a `--rule` can put a weight rule on a layer without weights.
            throw SRError.usage("layer '\(node.name)' (\(node.op.name)) has no '\(role)': its rule needs a convolution or linear layer")
        }
        return t
    }

    public var bias: Tensor? { graph.weight(node, "bias") }

    /// The same node with another signal.
    func with(signal: Tensor) -> RuleContext {
        RuleContext(node: node, graph: graph, inputs: inputs, output: output, signal: signal, scratch: scratch, cache: cache)
    }
}

/// A backward rule: maps the signal at a node's output to one signal per input
/// (nil: nothing flows to that input).
public protocol Rule: Sendable {
    /// Name as written on the command line (`epsilon:1e-6`, `gamma:0.25`, …).
    var name: String { get }
    func backward(_ c: RuleContext) throws -> [Tensor?]
    /// Whether this rule passes on exactly the relevance it receives at `node` (up to its
    /// stabiliser): what `verify` holds each layer to. Each rule declares it; the default
    /// is that it does not.
    func conserves(at node: Node, in graph: Graph) -> Bool
}

extension Rule {
    public func conserves(at node: Node, in graph: Graph) -> Bool { false }
}
