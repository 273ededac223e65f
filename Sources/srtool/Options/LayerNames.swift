import SRCore

extension Graph {
    /// The layer a user named: a node's name, the name of a tensor it outputs, or its `#`
    /// in `srtool inspect`'s table (a name that is all digits wins over a number).
    func resolveLayer(_ text: String, option: String) throws -> Node {
        if let node = node(named: text) ?? nodes.first(where: { $0.outputs.contains(text) }) { return node }
        if let k = Int(text), nodes.indices.contains(k) { return nodes[k] }
        if Int(text) != nil {
            throw SRError.usage("\(option): no layer named '\(text)' and no # \(text) (the model's layers are # 0 to \(nodes.count - 1); see srtool inspect)")
        }
        throw SRError.usage("\(option): no layer named '\(text)' (see srtool inspect)")
    }
}
