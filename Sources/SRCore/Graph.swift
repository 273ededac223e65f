/// A named graph input with its declared shape (the batch size may change at run time).
public struct GraphInput: Equatable, Sendable, Codable {
    public var name: String
    public var shape: [Int]
    public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
}

/// What a graph carries besides its math: where it came from and how to feed it.
public struct GraphMetadata: Equatable, Sendable, Codable {
    /// `onnx`, `caffe`, `caffe-hdf5`, `keras`, `srm`.
    public var sourceFormat: String
    public var sourceFiles: [String]
    /// Name of a preprocessing preset (see SRImage's `Preset`), if the model says.
    public var preprocess: String?
    public var labels: [String]?

    public init(sourceFormat: String, sourceFiles: [String] = [], preprocess: String? = nil,
                labels: [String]? = nil) {
        self.sourceFormat = sourceFormat; self.sourceFiles = sourceFiles
        self.preprocess = preprocess; self.labels = labels
    }
}

/// The one IR: inputs, nodes in topological order, outputs, a weight table.
public struct Graph: Sendable {
    public var inputs: [GraphInput]
    public var outputs: [String]
    public var nodes: [Node]
    public var weights: [String: Tensor]
    public var metadata: GraphMetadata

    public init(inputs: [GraphInput], outputs: [String], nodes: [Node],
                weights: [String: Tensor], metadata: GraphMetadata) {
        self.inputs = inputs; self.outputs = outputs; self.nodes = nodes
        self.weights = weights; self.metadata = metadata
    }

    /// The node producing tensor `name`, if any.
    public func producer(of tensor: String) -> Node? {
        nodes.first { $0.outputs.contains(tensor) }
    }

    /// A node by its name or by the name of a tensor it outputs.
    public func node(named name: String) -> Node? {
        nodes.first { $0.name == name } ?? producer(of: name)
    }

    /// True when the first output is a softmax's (its values are already probabilities).
    public var endsInSoftmax: Bool {
        guard let out = outputs.first, let node = producer(of: out) else { return false }
        if case .softmax = node.op { return true }
        return false
    }

    public func weight(_ node: Node, _ role: String) -> Tensor? {
        node.params[role].flatMap { weights[$0] }
    }

    /// Parameter count of a node (all its weights).
    public func parameterCount(_ node: Node) -> Int {
        node.params.values.reduce(0) { $0 + (weights[$1]?.count ?? 0) }
    }
}
