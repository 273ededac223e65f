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
            // Graph validation requires every op's weights, and rules apply only to ops that have them.
            throw SRError.internalError("layer '\(node.name)' (\(node.op.name)) has no '\(role)'")
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
/// (nil: nothing flows to that input). Each rule declares what it is — the ops it applies
/// to and where it conserves — and checks (the engine, `verify`, `--rule`) read those
/// declarations (docs/ARCHITECTURE.md, "Adding a rule").
public protocol Rule: Sendable {
    /// Name as written on the command line (`epsilon:1e-6`, `gamma:0.25`, …).
    var name: String { get }
    /// Whether the rule can map relevance through `op`: an exhaustive switch over `Op` in
    /// each rule, so a new op does not compile until every rule has decided. The engine
    /// refuses a rule on an op it does not apply to, so `backward` sees only these.
    func applies(to op: Op) -> Bool
    func backward(_ c: RuleContext) throws -> [Tensor?]
    /// Whether this rule passes on exactly the relevance it receives at `node` (up to its
    /// stabiliser): what `verify` holds each layer to.
    func conserves(at node: Node, in graph: Graph) -> Bool
}

extension Rule {
    /// The usage error for this rule on a layer whose op it does not apply to (a `--rule`
    /// on the wrong layer).
    func check(_ node: Node) throws {
        guard applies(to: node.op) else {
            throw SRError.usage("rule '\(name)' does not apply to layer '\(node.name)' (\(node.op.name))")
        }
    }
}
