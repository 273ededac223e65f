import Foundation
import SRCore

/// Batch-1 graphs that move or merge the batch axis. torchvision's `MultiheadAttention`
/// runs sequence-first (`[T, N, E]`) and folds the batch into the heads (`[N·H, T, D]`);
/// Swin partitions windows into the batch axis (`[N·W, P, C]`). srtool's IR keeps its batch
/// axis first, so when a file declares batch 1 (a fixed 1 or a symbolic batch, which srtool
/// imports as 1) such tensors are lowered per sample: a *per-sample* tensor has the IR
/// shape `[N] + its file shape`, the file's own axis 0 (the batch of 1, or a merged axis)
/// becoming an ordinary axis. Each file node that reads one is rewritten onto the
/// per-sample shapes before it is lowered — axes shift by one, a Reshape's target and a
/// Transpose's perm gain the leading batch axis, an Einsum gains a batch letter — so the op
/// table runs unchanged. A node that needs the IR's own batch axis (a convolution, a graph
/// output) gets the tensor back when the file's axis 0 has size 1 there.
extension ONNXGraphBuilder {
    /// The shape the file sees: a per-sample tensor's IR shape without srtool's batch axis.
    func fileShape(_ tensor: String) -> [Int]? {
        guard let s = shape(tensor) else { return nil }
        return isPerSample(tensor) ? Array(s.dropFirst()) : s
    }

    func isPerSample(_ tensor: String) -> Bool { perSampleTensors.contains(resolve(tensor)) }

    /// Ops whose per-sample form is the same op with shifted axes.
    private static let rewritable: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Pow", "MatMul", "Gemm", "Reshape", "Squeeze", "Unsqueeze",
        "Flatten", "Transpose", "Softmax", "LayerNormalization", "RMSNormalization", "Gather", "Slice", "Split", "Concat", "ReduceMean",
        "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "Einsum", "Pad", "Relu", "LeakyRelu", "Sigmoid", "Tanh",
        "Clip", "Erf", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "HardSwish", "HardSigmoid", "Elu", "Selu",
        "Softplus", "Softsign", "Mish", "Gelu", "Dropout", "Identity", "Expand",
    ]

    /// `proto` as srtool lowers it: unchanged unless the file declares batch 1 and the node
    /// reads a per-sample tensor or would move, merge or cut the batch axis. Sets
    /// `perSampleOutputs` when the node's outputs are per-sample.
    func perSampleForm(_ proto: Onnx_NodeProto, name: String) throws -> (node: Onnx_NodeProto, perSample: Bool) {
        guard batchOfOne else { return (proto, false) }
        let computed = proto.input.indices.filter { !proto.input[$0].isEmpty && shape(proto.input[$0]) != nil }
        guard let first = computed.first, proto.opType != "Shape" else { return (proto, false) }
        let readsPerSample = computed.contains { isPerSample(proto.input[$0]) }
        guard try readsPerSample || movesBatchAxis(proto, input: proto.input[first]) else { return (proto, false) }
        var node = proto
        let op = proto.opType
        let elementwise: Set<String> = ["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"]
        // Per-sample tensors whose file axis 0 has size 1 go back to the IR's batch axis for an
        // op that needs it, and for an element-wise op that also reads a tensor of the batch.
        let allBack = computed.allSatisfy { i in !isPerSample(proto.input[i]) || fileShape(proto.input[i])?.first == 1 }
        let mixed = computed.contains { !isPerSample(proto.input[$0]) }
        if !Self.rewritable.contains(op) || (elementwise.contains(op) && mixed && allBack
                                             && Set(computed.compactMap { fileShape(proto.input[$0])?.count }).count == 1) {
            for i in computed where isPerSample(proto.input[i]) {
                guard let s = fileShape(proto.input[i]), s.first == 1 else {
                    throw SRError.unsupported("node '\(name)' (\(op)): reads '\(proto.input[i])', whose batch axis the graph has moved or merged (shape \(fileShape(proto.input[i]) ?? []) for one sample); srtool cannot run \(op) on it")
                }
                node.input[i] = try batchForm(proto.input[i], name: name)
            }
            return (node, false)
        }
        guard let rank = fileShape(proto.input[first])?.count else { return (proto, false) }
        for i in computed where !isPerSample(proto.input[i]) { node.input[i] = try perSampleCopy(proto.input[i], name: name) }
        if op == "MatMul" || elementwise.contains(op) || op == "Pow" {
            // numpy broadcasting aligns trailing axes; srtool's batch axis must stay aligned too.
            let top = computed.compactMap { fileShape(node.input[$0])?.count }.max() ?? rank
            for i in computed { node.input[i] = try withRank(node.input[i], top, name: name) }
        }
        try shiftAxes(&node, rank: rank, name: name)
        return (node, true)
    }

    /// Whether a node reading only batch-first tensors would move, merge or cut the batch
    /// axis of size 1 (so its input must go per-sample first).
    private func movesBatchAxis(_ proto: Onnx_NodeProto, input: String) throws -> Bool {
        guard let s = shape(input) else { return false }
        let a = ONNXAttributes(proto, name: proto.name)
        func axes(_ index: Int) throws -> [Int]? {
            if let list = try a.ints("axes") { return list }
            guard index < proto.input.count, !proto.input[index].isEmpty, let c = constant(proto.input[index]) else { return nil }
            return try c.intValues("node '\(proto.name)' axes")
        }
        func touchesZero(_ axis: Int) -> Bool { axis == 0 || axis == -s.count }
        switch proto.opType {
        case "Transpose":
            return (try a.ints("perm"))?.first.map { $0 != 0 && $0 != -s.count } ?? true
        case "Reshape":
            guard proto.input.count > 1, let c = constant(proto.input[1]) else { return false }
            var t = try c.intValues("node '\(proto.name)' shape")
            // A leading 1, a 0 that copies it, or a −1 that comes out as 1 keeps the batch axis.
            if t.first == 0, try a.int("allowzero", 0) == 0 { t[0] = s[0] }
            if t.first == -1, let total = Shape.elementCount(s), let rest = Shape.elementCount(Array(t.dropFirst())), rest > 0,
               !t.dropFirst().contains(where: { $0 <= 0 }) { t[0] = total / rest }
            return t.first != 1
        case "Squeeze":
            // Without axes, srtool keeps the batch axis as it always has.
            return try axes(1)?.contains(where: touchesZero) ?? false
        case "Flatten":
            let axis = try a.int("axis", 1)
            return axis != 1 && axis != 1 - s.count && axis != 0
        case "Gather", "Split":
            return touchesZero(try a.int("axis", 0))
        case "Concat", "Softmax", "LayerNormalization", "RMSNormalization":
            return touchesZero(try a.int("axis", proto.opType.hasSuffix("Normalization") ? -1 : 1))
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2":
            return try axes(1)?.contains(where: touchesZero) ?? true
        case "Slice":
            guard let starts = opset < 10 ? try a.ints("starts") : (proto.input.count > 1 ? try constant(proto.input[1])?.intValues("starts") : nil) else { return false }
            let list = opset < 10 ? try a.ints("axes") : (proto.input.count > 3 && !proto.input[3].isEmpty ? try constant(proto.input[3])?.intValues("axes") : nil)
            return (list ?? Array(0..<starts.count)).contains(where: touchesZero)
        case "Einsum":
            return true
        default:
            return false
        }
    }

    /// A batch-first tensor as a per-sample one: its file axis 0 (size 1) becomes an ordinary
    /// axis after srtool's batch axis.
    private func perSampleCopy(_ tensor: String, name: String) throws -> String {
        let t = resolve(tensor)
        if let done = perSampleCopies[t] { return done }
        guard let s = shape(t) else { throw SRError.internalError("node '\(name)': no shape for '\(tensor)'") }
        let out = freshTensor("\(tensor)/sample")
        try emit(Node(name: name, op: .reshape(shape: s), inputs: [t], outputs: [out]))
        perSampleTensors.insert(out)
        perSampleCopies[t] = out
        return out
    }

    /// A per-sample tensor whose file axis 0 has size 1 back on the IR's batch axis.
    func batchForm(_ tensor: String, name: String) throws -> String {
        let t = resolve(tensor)
        if let done = batchCopies[t] { return done }
        guard let s = fileShape(t), s.first == 1 else {
            throw SRError.unsupported("node '\(name)': '\(tensor)' has its batch axis moved or merged (shape \(fileShape(t) ?? []) for one sample)")
        }
        let out = freshTensor("\(tensor)/batch")
        try emit(Node(name: name, op: .reshape(shape: Array(s.dropFirst())), inputs: [t], outputs: [out]))
        batchCopies[t] = out
        return out
    }

    /// A per-sample tensor with unit axes inserted after the batch axis up to `rank` file axes.
    private func withRank(_ tensor: String, _ rank: Int, name: String) throws -> String {
        guard let s = fileShape(tensor), s.count < rank else { return tensor }
        let out = freshTensor("\(tensor)/rank")
        try emit(Node(name: name, op: .reshape(shape: [Int](repeating: 1, count: rank - s.count) + s), inputs: [resolve(tensor)], outputs: [out]))
        perSampleTensors.insert(out)
        return out
    }

    /// Rewrites the node's axes for inputs that gained a leading batch axis (`rank`: the file
    /// rank of its first computed input).
    private func shiftAxes(_ node: inout Onnx_NodeProto, rank: Int, name: String) throws {
        let a = ONNXAttributes(node, name: name)
        let op = node.opType
        func shifted(_ axes: [Int]) -> [Int] { axes.map { $0 >= 0 ? $0 + 1 : $0 } }
        /// Axes given as input `index` (Squeeze / Unsqueeze from opset 13, ReduceSum from 13,
        /// the other reductions from 18, Slice from 10) or as the attribute `axes` before.
        func shiftAxesList(_ index: Int, default all: [Int]?) throws {
            if let list = try a.ints("axes") { setInts(&node, "axes", shifted(list)); return }
            if index < node.input.count, !node.input[index].isEmpty {
                guard let c = constant(node.input[index]) else { throw SRError.unsupported("node '\(name)' (\(op)): the axes must be constant") }
                node.input[index] = constantInput(shifted(try c.intValues("node '\(name)' axes")), name: name)
                return
            }
            guard let all else { return }
            let asInput = op == "Slice" ? opset >= 10 : op == "ReduceSum" || op == "Squeeze" || op == "Unsqueeze" ? opset >= 13 : opset >= 18
            guard asInput else { setInts(&node, "axes", shifted(all)); return }
            while node.input.count <= index { node.input.append("") }
            node.input[index] = constantInput(shifted(all), name: name)
        }
        switch op {
        case "Transpose":
            let perm = try a.ints("perm") ?? Array((0..<rank).reversed())
            setInts(&node, "perm", [0] + perm.map { ($0 < 0 ? $0 + rank : $0) + 1 })
        case "Softmax", "Concat", "Gather", "Split", "LayerNormalization", "RMSNormalization":
            let fallback = op == "Softmax" ? (opset < 13 ? 1 : -1) : op.hasSuffix("Normalization") ? -1 : op == "Concat" ? 1 : 0
            let axis = try a.int("axis", fallback)
            if op == "Softmax", opset < 13, axis != rank - 1, axis != -1 {
                throw SRError.unsupported("node '\(name)' (Softmax): opset-\(opset) softmax over flattened axes of a per-sample tensor")
            }
            setInt(&node, "axis", axis >= 0 ? axis + 1 : axis)
        case "Flatten":
            var axis = try a.int("axis", 1)
            if axis < 0 { axis += rank }
            guard let s = fileShape(node.input[0]), axis >= 0, axis <= rank else { throw a.fail("flatten axis \(axis) out of range") }
            node.opType = "Reshape"
            node.attribute = []
            node.input = [node.input[0], constantInput([1, s.prefix(axis).reduce(1, *), s.suffix(from: axis).reduce(1, *)], name: name)]
        case "Reshape":
            guard node.input.count > 1, let c = constant(node.input[1]) else {
                throw SRError.unsupported("node '\(name)' (Reshape): the shape must be constant")
            }
            node.input[1] = constantInput([1] + (try c.intValues("node '\(name)' shape")), name: name)
        case "Squeeze":
            let s = fileShape(node.input[0]) ?? []
            try shiftAxesList(1, default: s.indices.filter { s[$0] == 1 })
        case "Unsqueeze":
            try shiftAxesList(1, default: nil)
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2":
            if try a.int("noop_with_empty_axes", 0) == 0 { try shiftAxesList(1, default: Array(0..<rank)) } else { try shiftAxesList(1, default: nil) }
        case "Slice":
            if opset < 10 {
                let starts = try a.ints("starts") ?? []
                setInts(&node, "axes", shifted(try a.ints("axes") ?? Array(0..<starts.count)))
            } else {
                guard node.input.count > 2, let starts = constant(node.input[1]) else { throw a.fail("needs constant starts") }
                try shiftAxesList(3, default: Array(0..<(try starts.intValues("starts")).count))
            }
        case "Pad":
            if opset < 11 {
                let pads = try a.ints("pads") ?? []
                guard pads.count == 2 * rank else { throw a.fail("\(pads.count) pads for rank \(rank)") }
                setInts(&node, "pads", [0] + pads.prefix(rank) + [0] + pads.suffix(rank))
            } else {
                guard node.input.count > 1, let p = constant(node.input[1]) else { throw a.fail("pads must be a constant") }
                let pads = try p.intValues("node '\(name)' pads")
                guard pads.count == 2 * rank, node.input.count < 4 || node.input[3].isEmpty else {
                    throw SRError.unsupported("node '\(name)' (Pad): pads \(pads) with axes on a per-sample tensor")
                }
                node.input[1] = constantInput([0] + pads.prefix(rank) + [0] + pads.suffix(rank), name: name)
            }
        case "Einsum":
            let equation = try a.string("equation") ?? ""
            guard let letter = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".first(where: { !equation.contains($0) }) else {
                throw SRError.unsupported("node '\(name)' (Einsum): no letter is free for the batch axis")
            }
            setString(&node, "equation", ONNXEinsum.prefixingOperands(equation, with: letter))
        default:
            break  // element-wise ops, MatMul, Gemm: no axes
        }
    }

    /// A fresh constant of ints, as the name of a node input.
    private func constantInput(_ values: [Int], name: String) -> String {
        let key = freshTensor("\(name)/per-sample")
        constants[key] = .ints(shape: [values.count], values: values)
        return key
    }

    private func setInt(_ node: inout Onnx_NodeProto, _ key: String, _ v: Int) {
        node.attribute.removeAll { $0.name == key }
        var a = Onnx_AttributeProto()
        a.name = key; a.type = .int; a.i = Int64(v)
        node.attribute.append(a)
    }

    private func setInts(_ node: inout Onnx_NodeProto, _ key: String, _ v: [Int]) {
        node.attribute.removeAll { $0.name == key }
        var a = Onnx_AttributeProto()
        a.name = key; a.type = .ints; a.ints = v.map(Int64.init)
        node.attribute.append(a)
    }

    private func setString(_ node: inout Onnx_NodeProto, _ key: String, _ v: String) {
        node.attribute.removeAll { $0.name == key }
        var a = Onnx_AttributeProto()
        a.name = key; a.type = .string; a.s = Data(v.utf8)
        node.attribute.append(a)
    }
}
