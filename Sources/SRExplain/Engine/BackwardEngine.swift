import Foundation
import SRCore
import SRRuntime

/// The one backward traversal: walks the graph's nodes in reverse, asks a rule for each
/// node's backward map and accumulates the signals of tensors read by several nodes.
/// Every explanation method is a choice of rules (`RuleSet`), not a traversal of its own.
public final class BackwardEngine {
    public let graph: Graph
    private let scratch = Scratch()
    private let cache = ModifiedWeightCache()

    public init(graph: Graph) {
        self.graph = graph
    }

    /// Signals at every tensor reached from `start` (tensor name → `[N, …]` signal).
    /// `activations` must hold every forward tensor (`Executor.run(_:keepAll: true)`).
    /// With `stopAt`, the walk ends at the node producing that tensor: its signal is then
    /// complete (every reader comes later in topological order) and nothing below is needed.
    public func run(activations: Activations, start: [String: Tensor], rules: RuleSet, stopAt: String? = nil,
                    observe: ((Node, Rule, Tensor, [Tensor?]) -> Void)? = nil) throws -> [String: Tensor] {
        var signal = start
        for node in graph.nodes.reversed() {
            if let stopAt, node.outputs.contains(stopAt) { break }
            guard let out = signal[node.output] else { continue }
            guard let y = activations[node.output] else {
                throw SRError.internalError("activation '\(node.output)' was not kept")
            }
            let xs = try node.inputs.map { name -> Tensor in
                guard let t = activations[name] else { throw SRError.internalError("activation '\(name)' was not kept") }
                return t
            }
            let rule = rules.rule(for: node)
            try rule.check(node)
            let context = RuleContext(node: node, graph: graph, inputs: xs, output: y, signal: out, scratch: scratch, cache: cache)
            let back = try rule.backward(context)
            observe?(node, rule, out, back)
            for (name, s) in zip(node.inputs, back) {
                guard let s else { continue }
                if let existing = signal[name] {
                    signal[name] = Kernels.combine([existing, s], outShape: existing.shape, .add)
                } else {
                    signal[name] = s
                }
            }
        }
        return signal
    }
}

/// Which rule each node gets.
public struct RuleSet: Sendable {
    private let choose: @Sendable (Node) -> Rule

    public init(_ choose: @escaping @Sendable (Node) -> Rule) {
        self.choose = choose
    }

    public func rule(for node: Node) -> Rule { choose(node) }
}
