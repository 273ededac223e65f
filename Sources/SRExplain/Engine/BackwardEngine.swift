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

    /// Signals at the tensors reached from `start` that `retention` keeps (tensor name →
    /// `[N, …]` signal), and the graph inputs' signals.
    /// `activations` must hold every forward tensor (`Executor.run(_:keepAll: true)`); under
    /// `.tensors`, each activation and signal it does not keep is freed as soon as the walk
    /// has passed the node producing it (every reader comes later in topological order), so
    /// the signals never all live at once.
    /// With `stopAt`, the walk ends at the node producing that tensor: its signal is then
    /// complete and nothing below is needed.
    public func run(activations: inout Activations, start: [String: Tensor], rules: RuleSet, stopAt: String? = nil,
                    retention: Retention = .everyLayer,
                    observe: ((Node, Rule, Tensor, [Tensor?]) -> Void)? = nil) throws -> [String: Tensor] {
        var signal = start
        for node in graph.nodes.reversed() {
            if let stopAt, node.outputs.contains(stopAt) { break }
            defer {
                if case .tensors(let kept) = retention {
                    for o in node.outputs where !kept.contains(o) {
                        signal[o] = nil
                        activations.tensors[o] = nil
                    }
                }
            }
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
        // What a walk stopped early did not reach.
        if case .tensors(let kept) = retention {
            let inputs = Set(graph.inputs.map(\.name))
            activations.tensors = activations.tensors.filter { kept.contains($0.key) || inputs.contains($0.key) }
            signal = signal.filter { kept.contains($0.key) || inputs.contains($0.key) }
        }
        return signal
    }
}

/// What a backward pass keeps besides the graph inputs' signals.
public enum Retention: Sendable {
    /// The signal and the activation at every tensor (`Explanation.layers`: inspect,
    /// render, `--save-layers`).
    case everyLayer
    /// Only these tensors' signals and activations.
    case tensors(Set<String>)
}

/// Which rule each node gets.
public struct RuleSet: Sendable {
    private let choose: @Sendable (Node) -> Rule

    public init(_ choose: @escaping @Sendable (Node) -> Rule) {
        self.choose = choose
    }

    public func rule(for node: Node) -> Rule { choose(node) }
}
