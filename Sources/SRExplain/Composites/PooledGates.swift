import SRCore

/// Which factors of an element-wise product are squeeze-and-excitation gates: a factor
/// computed from a globally pooled signal (`σ(W₂·relu(W₁·pool(x)))`, hard-sigmoid or
/// clip variants alike) through a chain of one-input layers. Found from the graph, not from
/// shapes, so a gate is recognised even where the feature map is 1 × 1 and the gate has the
/// signal's shape.
enum PooledGates {
    /// Layers walked back from a factor before giving up.
    static let reach = 12

    /// The indices of `node`'s inputs that are pooled gates; empty unless exactly the
    /// gates (not every factor) are.
    static func inputs(of node: Node, in graph: Graph) -> Set<Int> {
        let gates = Set(node.inputs.indices.filter { isPooledGate(node.inputs[$0], graph) })
        return gates.count < node.inputs.count ? gates : []
    }

    /// Whether `tensor` comes from a global average pool through one-input layers only.
    static func isPooledGate(_ tensor: String, _ graph: Graph) -> Bool {
        var current = tensor
        for _ in 0..<reach {
            guard let producer = graph.producer(of: current) else { return false }
            switch producer.op {
            case .globalAvgPool: return true
            case .reduce(let a) where a.kind == .mean: return true
            default: break
            }
            // Follow the one activation input; a join of two signals ends the search.
            let activations = producer.inputs.filter { name in
                graph.producer(of: name) != nil || graph.inputs.contains { $0.name == name }
            }
            guard activations.count == 1 else { return false }
            current = activations[0]
        }
        return false
    }
}
