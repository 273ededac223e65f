import Foundation
import SRCore
import SwiftProtobuf

/// ONNX → Graph. Reads the `ModelProto`, orders the nodes, folds constant sub-graphs and
/// lowers every node onto the canonical ops (`ONNXLowering.swift`).
public enum ONNXImporter {
    /// True when `bytes` (the head of a file) look like an ONNX model: a protobuf whose
    /// top-level fields all are `ModelProto` fields with their wire types, starting with
    /// `ir_version` (field 1, varint).
    public static func sniff(_ bytes: Data) -> Bool {
        let head = Data(bytes.prefix(4096))
        guard head.first == 0x08 else { return false }
        let varintFields: Set<UInt64> = [1, 5]
        let lengthFields: Set<UInt64> = [2, 3, 4, 6, 7, 8, 14, 20, 25]
        return head.withUnsafeBytes { b in
            var scan = ProtobufFields(b, in: 0..<b.count)
            var fields = 0
            while true {
                switch scan.next() {
                case .field(let f):
                    guard f.wire == 0 && varintFields.contains(f.number) || f.wire == 2 && lengthFields.contains(f.number)
                    else { return false }
                    fields += 1
                case .end, .truncated:
                    // A head cut inside a field is still the head of a model.
                    return fields > 0
                case .invalid:
                    return false
                }
            }
        }
    }

    /// The newest default-domain opset srtool reads: that of the `onnx` 1.23.2 wheel, whose
    /// node tests the conformance suite runs. A newer one may change an op's meaning.
    public static let newestOpset = 28

    public static func load(path: String, inputShape: [Int]? = nil,
                            limits: ImportLimits = .default) throws -> Graph {
        let url = URL(fileURLWithPath: path)
        try InputFile.checkRegular(path)
        var model: Onnx_ModelProto, raw: ONNXModelDecoding.RawData
        let file = try MappedFile(path: path)
        do {
            (model, raw) = try ONNXModelDecoding.decode(file)
        } catch let e as SwiftProtobuf.BinaryDecodingError {
            throw SRError.malformed("\(path): not a valid ONNX model (protobuf: \(e))")
        } catch {
            throw SRError.malformed("\(path): not a valid ONNX model (\(error))")
        }
        // The decoded model may borrow bytes of the map: it stays mapped until the import ends.
        var graph = try withExtendedLifetime(file) {
            try load(model: &model, directory: url.deletingLastPathComponent(), inputShape: inputShape, limits: limits,
                     name: path, raw: (file, raw))
        }
        graph.metadata.sourceFiles = [url.lastPathComponent]
        return graph
    }

    /// Imports a decoded model; external data is looked up in `directory`, `raw_data` left in
    /// the file by `ONNXModelDecoding` in `raw`.
    static func load(model: inout Onnx_ModelProto, directory: URL, inputShape: [Int]? = nil,
                     limits: ImportLimits = .default, name: String,
                     raw: ONNXModelDecoding.RawSource? = nil) throws -> Graph {
        guard model.hasGraph else { throw SRError.malformed("\(name): ONNX model has no graph") }
        let props = Dictionary(model.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let importer = try ONNXGraphBuilder(model: &model, directory: directory, inputShape: inputShape, limits: limits,
                                            raw: raw)
        var graph = try importer.build()
        // srtool's own metadata_props keys: how to feed the model and what its classes are.
        graph.metadata.preprocess = props["srtool.preprocess"]
        graph.metadata.labels = props["srtool.labels"].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        return graph
    }
}

/// The state of one import: activation shapes, folded constants, emitted nodes.
final class ONNXGraphBuilder {
    let opset: Int
    private let protoGraph: Onnx_GraphProto
    let limits: ImportLimits
    private let inputShape: [Int]?
    var constants: [String: ONNXConstant] = [:]
    var shapes: [String: [Int]] = [:]
    private var alias: [String: String] = [:]
    private var nodes: [Node] = []
    private var weights: [String: Tensor] = [:]
    private var nodeNames = Set<String>()
    /// How many node inputs and graph outputs read each ONNX tensor.
    private var consumerCount: [String: Int] = [:]
    /// Reads of each tensor not yet lowered, an alias's counted for the tensor it names: a
    /// float constant none is left to read is dropped (`lowered(_:)`).
    private var unread: [String: Int] = [:]
    /// Transposes that move the batch axis, not emitted: only a Split or Gather taking
    /// single slices of their new first axis may read them (`ONNXBatchMoves.swift`).
    var batchMoves: [String: (input: String, perm: [Int])] = [:]
    /// Split outputs of a batch move whose leading axis of size 1 a Squeeze removes: the
    /// tensor that Squeeze yields.
    var squeezedFirstAxis: [String: String] = [:]
    /// Tensor names `freshTensor` has handed out.
    var freshNames = Set<String>()
    /// Elements of every tensor ConstantOfShape made: data no byte of the file backs, so
    /// capped in total (`ImportLimits.maxFoldedElements`), not only per tensor.
    var foldedElements = 0
    /// The file declares batch 1: tensors whose batch axis the graph moves or merges are
    /// lowered per sample (`ONNXPerSample.swift`).
    var batchOfOne = false
    /// Tensors whose IR shape is `[N] + file shape` (`ONNXPerSample.swift`).
    var perSampleTensors = Set<String>()
    /// Batch-first tensors already copied into per-sample form, and back.
    var perSampleCopies: [String: String] = [:]
    var batchCopies: [String: String] = [:]

    init(model: inout Onnx_ModelProto, directory: URL, inputShape: [Int]?, limits: ImportLimits,
         raw: ONNXModelDecoding.RawSource? = nil) throws {
        opset = Int(model.opsetImport.first { $0.domain == "" || $0.domain == "ai.onnx" }?.version ?? 1)
        guard opset >= 1 else { throw SRError.malformed("the model declares ONNX opset \(opset)") }
        guard opset <= ONNXImporter.newestOpset else {
            throw SRError.unsupported("the model uses ONNX opset \(opset); srtool reads opsets up to \(ONNXImporter.newestOpset)")
        }
        self.limits = limits
        self.inputShape = inputShape
        try limits.check(nodes: model.graph.node.count)
        // Decode the initializers one by one and drop each protobuf copy as we go, so a
        // large model is not held twice.
        for i in model.graph.initializer.indices {
            let t = model.graph.initializer[i]
            guard !t.name.isEmpty else { throw SRError.malformed("an initializer has no name") }
            let inFile = raw.flatMap { raw in raw.ranges[i].map { (raw.file, $0) } }
            constants[t.name] = try t.constant(modelDirectory: directory, limits: limits, rawInFile: inFile)
            model.graph.initializer[i].rawData = Data()
            model.graph.initializer[i].floatData = []
        }
        protoGraph = model.graph
        for n in protoGraph.node { for i in n.input where !i.isEmpty { consumerCount[i, default: 0] += 1 } }
        for o in protoGraph.output { consumerCount[o.name, default: 0] += 1 }
        unread = consumerCount
    }

    /// Counts `node`'s reads done and drops the float constants none is left to read: the
    /// lowering copies weights it reshapes (MatMul's are transposed), so the file's forms
    /// would otherwise be held to the end of the import, twice a ViT's weights.
    private func lowered(_ node: Onnx_NodeProto) {
        for input in node.input where !input.isEmpty {
            let name = resolve(input)
            unread[name, default: 0] -= 1
            if unread[name, default: 0] <= 0, case .floats? = constants[name] { constants[name] = nil }
        }
    }

    func build() throws -> Graph {
        var inputs: [GraphInput] = []
        for vi in protoGraph.input where constants[vi.name] == nil {
            let shape = try declaredShape(vi)
            inputs.append(GraphInput(name: vi.name, shape: shape))
            shapes[vi.name] = shape
        }
        guard !inputs.isEmpty else { throw SRError.malformed("ONNX graph has no non-constant input") }
        if inputShape != nil && inputs.count > 1 {
            throw SRError.usage("--input-shape given but the model has \(inputs.count) inputs")
        }
        batchOfOne = inputs.allSatisfy { $0.shape.first == 1 }
        for (index, proto) in try sortedNodes().enumerated() {
            let (node, perSample) = try perSampleForm(proto, name: nodeName(proto, index))
            try lower(node, index: index)
            lowered(proto)
            if perSample {
                for o in node.output where !o.isEmpty && shape(o) != nil { perSampleTensors.insert(resolve(o)) }
            }
        }
        var outputs: [String] = []
        for vi in protoGraph.output {
            var name = resolve(vi.name)
            guard shapes[name] != nil else {
                throw SRError.unsupported("graph output '\(vi.name)' is a constant, not computed from the input")
            }
            // A per-sample output keeps [N] + its file shape, less the file's batch of 1.
            if isPerSample(name), fileShape(name)?.first == 1 { name = try batchForm(name, name: vi.name) }
            outputs.append(name)
        }
        // An output renamed by a removed identity keeps its ONNX name through an identity node.
        for (i, vi) in protoGraph.output.enumerated() where outputs[i] != vi.name && shapes[vi.name] == nil {
            try emit(Node(name: vi.name, op: .identity, inputs: [outputs[i]], outputs: [vi.name]))
            outputs[i] = vi.name
        }
        let graph = Graph(inputs: inputs, outputs: outputs, nodes: nodes, weights: weights,
                          metadata: GraphMetadata(sourceFormat: "onnx"))
        try graph.validate()
        return graph
    }

    private func declaredShape(_ vi: Onnx_ValueInfoProto) throws -> [Int] {
        if let inputShape { return inputShape }
        guard case .tensorType(let t)? = vi.type.value, t.hasShape else {
            throw SRError.usage("input '\(vi.name)' has no declared shape: give --input-shape N,C,H,W")
        }
        guard t.elemType == 1 || t.elemType == 0 else {
            throw SRError.unsupported("input '\(vi.name)' has element type \(t.elemType); only float32 inputs are supported")
        }
        return try t.shape.dim.enumerated().map { i, d in
            switch d.value {
            case .dimValue(let v)?:
                guard v >= 0, v < 1 << 31 else { throw SRError.malformed("input '\(vi.name)' has dimension \(v)") }
                guard v >= 1 else { throw SRError.unsupported("input '\(vi.name)' has an empty dimension") }
                return Int(v)
            case .dimParam?, nil:
                // A symbolic dimension: the batch becomes 1; any other needs --input-shape.
                guard i == 0 else { throw SRError.usage("input '\(vi.name)' has a symbolic dimension \(i): give --input-shape N,C,H,W") }
                return 1
            }
        }
    }

    /// Kahn's algorithm over tensor dependencies; a cycle or dangling input names a node.
    private func sortedNodes() throws -> [Onnx_NodeProto] {
        let all = protoGraph.node
        var producer: [String: Int] = [:]
        for (i, n) in all.enumerated() {
            for o in n.output where !o.isEmpty {
                guard producer[o] == nil else { throw SRError.malformed("tensor '\(o)' is produced by two nodes") }
                producer[o] = i
            }
        }
        var pending = [Int](repeating: 0, count: all.count)
        var consumers = [[Int]](repeating: [], count: all.count)
        for (i, n) in all.enumerated() {
            for input in n.input where !input.isEmpty {
                if let p = producer[input] {
                    pending[i] += 1
                    consumers[p].append(i)
                } else if constants[input] == nil && shapes[input] == nil {
                    throw SRError.malformed("node '\(nodeName(n, i))' (\(n.opType)): input '\(input)' is not produced by any node, initializer or graph input")
                }
            }
        }
        var ready = (0..<all.count).filter { pending[$0] == 0 }
        var order: [Onnx_NodeProto] = []
        var head = 0
        while head < ready.count {
            let i = ready[head]; head += 1
            order.append(all[i])
            for c in consumers[i] {
                pending[c] -= 1
                if pending[c] == 0 { ready.append(c) }
            }
        }
        if let stuck = pending.firstIndex(where: { $0 > 0 }) {
            throw SRError.malformed("node '\(nodeName(all[stuck], stuck))' (\(all[stuck].opType)) is part of a cycle")
        }
        return order
    }

    func nodeName(_ n: Onnx_NodeProto, _ index: Int) -> String {
        if !n.name.isEmpty { return n.name }
        if let o = n.output.first, !o.isEmpty { return o }
        return "\(n.opType)_\(index)"
    }

    // MARK: helpers for the lowering table

    func resolve(_ tensor: String) -> String { alias[tensor] ?? tensor }

    /// Makes `output` another name of `input` (identity-like nodes are removed).
    func alias(_ output: String, to input: String) {
        alias[output] = resolve(input)
        unread[resolve(input), default: 0] += unread[output, default: 0]
        if let c = constants[resolve(input)] { constants[output] = c }
    }

    func constant(_ tensor: String) -> ONNXConstant? { constants[resolve(tensor)] }

    func isConsumed(_ tensor: String) -> Bool { consumerCount[tensor, default: 0] > 0 }

    /// Makes `bias` the bias of the bias-free conv/linear node that produced `tensor`, when
    /// nothing else reads that output; the node then outputs `output` instead. Returns
    /// false when it cannot fuse.
    /// `axis` is the axis the bias varies along (nil: a scalar); it must be the layer's
    /// output-feature axis (a conv's channels, a linear layer's last axis).
    func fuseBias(into tensor: String, bias: [Float], axis: Int?, output: String) throws -> Bool {
        let t = resolve(tensor)
        guard consumerCount[t, default: 0] == 1, !protoGraph.output.contains(where: { $0.name == t }),
              let i = nodes.lastIndex(where: { $0.outputs == [t] }),
              nodes[i].params["bias"] == nil, let w = weights[nodes[i].params["weight"] ?? ""],
              let rank = shapes[t]?.count else { return false }
        switch nodes[i].op {
        case .linear, .conv2d:
            if let axis {
                if case .linear = nodes[i].op { guard axis == rank - 1 else { return false } } else { guard axis == 1 else { return false } }
            }
            let b = bias.count == 1 ? [Float](repeating: bias[0], count: w.shape[0]) : bias
            guard b.count == w.shape[0] else { return false }
            nodes[i].params["bias"] = addWeight(try Tensor(shape: [b.count], values: b), name: "\(nodes[i].name).bias")
            nodes[i].outputs = [output]
            shapes[output] = shapes[t]
            shapes[t] = nil
            return true
        default:
            return false
        }
    }

    /// `x·σ(x)` as exported (a Sigmoid read only by this Mul): one `silu` node, so rules see
    /// one activation instead of a product of two. Returns false when the pattern is not there.
    func fuseSiLU(_ operands: [String], name: String, output: String) throws -> Bool {
        guard operands.count == 2 else { return false }
        for (gate, signal) in [(operands[1], operands[0]), (operands[0], operands[1])] {
            let g = resolve(gate), x = resolve(signal)
            guard consumerCount[g, default: 0] == 1, !protoGraph.output.contains(where: { $0.name == g }),
                  let i = nodes.lastIndex(where: { $0.outputs == [g] }), case .sigmoid = nodes[i].op,
                  nodes[i].inputs == [x] else { continue }
            nodes.remove(at: i)
            shapes[g] = nil
            try emit(Node(name: name, op: .unary(.silu), inputs: [x], outputs: [output]))
            return true
        }
        return false
    }

    /// GELU as PyTorch exports it before opset 20 — `x·(1 + erf(x/√2))·½`: Div, Erf, Add,
    /// Mul, Mul — becomes one `gelu` node when the last Mul (by `factor`) is lowered and each
    /// intermediate tensor has no other reader. Returns false when the pattern is not there.
    func fuseGELU(_ product: String, factor: Float, name: String, output: String) throws -> Bool {
        guard abs(factor - 0.5) < 1e-6 else { return false }
        func producer(_ t: String) -> Int? {
            guard consumerCount[t, default: 0] == 1, !protoGraph.output.contains(where: { $0.name == t }) else { return nil }
            return nodes.lastIndex { $0.outputs == [t] }
        }
        func scalar(_ node: Node, _ role: String) -> Float? {
            guard let w = node.params[role].flatMap({ weights[$0] }), w.count == 1 else { return nil }
            return w.pointer[0]
        }
        guard let i4 = producer(resolve(product)), case .mul = nodes[i4].op, nodes[i4].inputs.count == 2 else { return false }
        for (x, t3) in [(nodes[i4].inputs[0], nodes[i4].inputs[1]), (nodes[i4].inputs[1], nodes[i4].inputs[0])] {
            guard let i3 = producer(t3), case .scale = nodes[i3].op, scalar(nodes[i3], "weight") == 1, scalar(nodes[i3], "bias") == 1,
                  let i2 = producer(nodes[i3].inputs[0]), nodes[i2].op == .unary(.erf),
                  let i1 = producer(nodes[i2].inputs[0]), case .scale = nodes[i1].op, nodes[i1].params["bias"] == nil,
                  let k = scalar(nodes[i1], "weight"), abs(k - 0.70710678) < 1e-6, nodes[i1].inputs == [x] else { continue }
            for i in [i4, i3, i2, i1].sorted(by: >) {
                for o in nodes[i].outputs { shapes[o] = nil }
                nodes.remove(at: i)
            }
            try emit(Node(name: name, op: .unary(.gelu), inputs: [x], outputs: [output]))
            return true
        }
        return false
    }

    /// Whether the file lists `tensor` as a graph output.
    func isGraphOutput(_ tensor: String) -> Bool { protoGraph.output.contains { $0.name == tensor } }

    func shape(_ tensor: String) -> [Int]? { shapes[resolve(tensor)] }

    /// Adds a weight under a unique name and returns the name.
    func addWeight(_ t: Tensor, name: String) -> String {
        var key = name
        var i = 1
        while let existing = weights[key], existing.storage !== t.storage || existing.shape != t.shape {
            key = "\(name)_\(i)"; i += 1
        }
        weights[key] = t
        return key
    }

    func uniqueNodeName(_ base: String) -> String {
        var name = base
        var i = 1
        while nodeNames.contains(name) { name = "\(base)_\(i)"; i += 1 }
        return name
    }

    /// Appends a node, inferring its output shape now so later lowerings can use it.
    func emit(_ node: Node) throws {
        var node = node
        node.name = uniqueNodeName(node.name)
        nodeNames.insert(node.name)
        node.inputs = node.inputs.map(resolve)
        let ins = try node.inputs.map { name -> [Int] in
            guard let s = shapes[name] else {
                throw SRError.unsupported("node '\(node.name)' (\(node.op.name)): input '\(name)' is a constant; srtool needs it computed from the graph input")
            }
            return s
        }
        let out = try GraphAssembler.outputShape(of: node, inputs: ins, weights: weights, limits: limits)
        for o in node.outputs { shapes[o] = out }
        nodes.append(node)
    }
}
