import Foundation
import SRCore

/// Builds a Graph node by node for the importers that name their own tensors (Caffe,
/// Keras): infers each output shape as the node is added (so later layers can use it),
/// keeps node and weight names unique and checks the size limits.
final class GraphAssembler {
    private(set) var nodes: [Node] = []
    private(set) var weights: [String: Tensor] = [:]
    private(set) var shapes: [String: [Int]] = [:]
    private var nodeNames = Set<String>()
    private var produced = Set<String>()
    let limits: ImportLimits

    init(limits: ImportLimits) { self.limits = limits }

    func declareInput(_ name: String, shape: [Int]) { shapes[name] = shape }

    func shape(_ tensor: String) -> [Int]? { shapes[tensor] }

    func isDefined(_ tensor: String) -> Bool { shapes[tensor] != nil }

    func producerExists(_ tensor: String) -> Bool { produced.contains(tensor) }

    /// Adds a weight under a unique name and returns the name.
    func addWeight(_ t: Tensor, name: String) -> String {
        var key = name
        var i = 1
        while weights[key] != nil { key = "\(name)_\(i)"; i += 1 }
        weights[key] = t
        return key
    }

    /// A tensor or node name not used yet.
    func unique(_ base: String) -> String {
        var name = base
        var i = 1
        while nodeNames.contains(name) || shapes[name] != nil { name = "\(base)_\(i)"; i += 1 }
        return name
    }

    /// Appends a node and returns its output shape.
    @discardableResult
    func emit(_ node: Node) throws -> [Int] {
        var node = node
        if nodeNames.contains(node.name) { node.name = unique(node.name) }
        nodeNames.insert(node.name)
        let ins = try node.inputs.map { name -> [Int] in
            guard let s = shapes[name] else { throw SRError.malformed("node '\(node.name)': input '\(name)' is not defined") }
            return s
        }
        let out = try Self.outputShape(of: node, inputs: ins, weights: weights, limits: limits)
        try limits.check(nodes: nodes.count + 1)
        for o in node.outputs { shapes[o] = out; produced.insert(o) }
        nodes.append(node)
        return out
    }

    func graph(inputs: [GraphInput], outputs: [String], metadata: GraphMetadata) throws -> Graph {
        let graph = Graph(inputs: inputs, outputs: outputs, nodes: nodes, weights: weights, metadata: metadata)
        try graph.validate()
        return graph
    }

    /// A node's output shape from its inputs' and weights' shapes, refused when it
    /// overflows or exceeds the size limit (every importer adds nodes through this).
    static func outputShape(of node: Node, inputs: [[Int]], weights: [String: Tensor], limits: ImportLimits) throws -> [Int] {
        var params: [String: [Int]] = [:]
        for (role, w) in node.params { params[role] = weights[w]?.shape }
        let out = try node.op.outputShape(inputs: inputs, params: params, node: node.name)
        guard let n = Shape.elementCount(out) else { throw SRError.malformed("node '\(node.name)': output shape \(out) overflows") }
        try limits.check(elements: n, what: "node '\(node.name)' output")
        return out
    }
}
