import SRCore

/// The linear layers of a graph that project into attention (q, k, v: their output reaches
/// a product of two activations through layout ops) or out of it (their input comes from
/// one): LXT's γ composites leave these at LRP-0 (docs/attnlrp-reference.md).
enum AttentionProjections {
    static func names(in graph: Graph) -> Set<String> {
        var producer: [String: Node] = [:]
        var readers: [String: [Node]] = [:]
        for node in graph.nodes {
            for o in node.outputs { producer[o] = node }
            for i in node.inputs { readers[i, default: []].append(node) }
        }
        /// Ops that only move or scale values on the way to or from the attention.
        func isLayout(_ op: Op) -> Bool {
            switch op {
            case .reshape, .flatten, .transpose, .slice, .identity, .scale, .concat: return true
            default: return false
            }
        }
        func reachesProduct(from tensor: String, depth: Int = 0) -> Bool {
            guard depth < 16 else { return false }
            for r in readers[tensor] ?? [] {
                if case .matmul = r.op { return true }
                if isLayout(r.op), r.outputs.contains(where: { reachesProduct(from: $0, depth: depth + 1) }) { return true }
            }
            return false
        }
        func comesFromProduct(_ tensor: String, depth: Int = 0) -> Bool {
            guard depth < 16, let p = producer[tensor] else { return false }
            if case .matmul = p.op { return true }
            return isLayout(p.op) && p.inputs.contains { comesFromProduct($0, depth: depth + 1) }
        }
        var names = Set<String>()
        for node in graph.nodes {
            guard case .linear = node.op else { continue }
            if node.outputs.contains(where: { reachesProduct(from: $0) }) || node.inputs.contains(where: { comesFromProduct($0) }) {
                names.insert(node.name)
            }
        }
        return names
    }
}
