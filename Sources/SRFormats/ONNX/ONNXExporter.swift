import Foundation
import SRCore

/// Graph → ONNX (opset 17). Every canonical op maps to ONNX ops with the same numbers:
/// pooling that rounds up becomes explicit end padding in floor mode; Caffe's average
/// divisor (the window clipped to the padded input, not to the ceil overhang) becomes a
/// zero `Pad` followed by an `AveragePool` that excludes the overhang; LRN within a
/// channel becomes x·(k + α·AveragePool(x²))^−β. Nothing is approximated.
public enum ONNXExporter {
    public static let opset: Int64 = 17

    public static func write(_ graph: Graph, to path: String) throws {
        let model = try export(graph)
        let data: Data = try model.serializedBytes()
        try AtomicFile.write(to: path) { handle in try handle.write(contentsOf: data) }
    }

    static func export(_ graph: Graph) throws -> Onnx_ModelProto {
        var b = Builder(graph: graph)
        let shapes = try graph.inferShapes(batch: 1)
        for node in graph.nodes { try b.lower(node, shapes: shapes) }
        var g = Onnx_GraphProto()
        g.name = "srtool"
        g.node = b.nodes
        g.initializer = b.initializers
        g.input = graph.inputs.map { valueInfo($0.name, shape: $0.shape) }
        g.output = try graph.outputs.map { name in
            guard let s = shapes[name] else { throw SRError.internalError("output '\(name)' has no shape") }
            return valueInfo(name, shape: s)
        }
        var m = Onnx_ModelProto()
        m.irVersion = 8
        m.producerName = "srtool"
        var op = Onnx_OperatorSetIdProto()
        op.domain = ""
        op.version = opset
        m.opsetImport = [op]
        m.graph = g
        var props: [Onnx_StringStringEntryProto] = []
        func prop(_ k: String, _ v: String) { var e = Onnx_StringStringEntryProto(); e.key = k; e.value = v; props.append(e) }
        if let p = graph.metadata.preprocess { prop("srtool.preprocess", p) }
        if let l = graph.metadata.labels { prop("srtool.labels", l.joined(separator: "\n")) }
        prop("srtool.source", ([graph.metadata.sourceFormat] + graph.metadata.sourceFiles).joined(separator: " "))
        m.metadataProps = props
        return m
    }

    /// A float tensor value with a symbolic batch dimension "N".
    static func valueInfo(_ name: String, shape: [Int]) -> Onnx_ValueInfoProto {
        var t = Onnx_TypeProto.Tensor()
        t.elemType = 1
        var s = Onnx_TensorShapeProto()
        s.dim = shape.enumerated().map { i, d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if i == 0 { dim.dimParam = "N" } else { dim.dimValue = Int64(d) }
            return dim
        }
        t.shape = s
        var type = Onnx_TypeProto()
        type.tensorType = t
        var v = Onnx_ValueInfoProto()
        v.name = name
        v.type = type
        return v
    }

    struct Builder {
        let graph: Graph
        var nodes: [Onnx_NodeProto] = []
        var initializers: [Onnx_TensorProto] = []
        var names = Set<String>()

        init(graph: Graph) {
            self.graph = graph
            for n in graph.nodes { names.formUnion(n.outputs) }
            names.formUnion(graph.inputs.map(\.name))
        }

        mutating func unique(_ base: String) -> String {
            var n = base, i = 1
            while names.contains(n) { n = "\(base)_\(i)"; i += 1 }
            names.insert(n)
            return n
        }

        mutating func constant(_ base: String, _ values: [Float], dims: [Int]) -> String {
            var t = Onnx_TensorProto()
            t.name = unique(base)
            t.dataType = 1
            t.dims = dims.map(Int64.init)
            t.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
            initializers.append(t)
            return t.name
        }

        mutating func constant(_ base: String, _ tensor: Tensor, dims: [Int]? = nil) -> String {
            var t = Onnx_TensorProto()
            t.name = unique(base)
            t.dataType = 1
            t.dims = (dims ?? tensor.shape).map(Int64.init)
            t.rawData = Data(buffer: tensor.buffer)
            initializers.append(t)
            return t.name
        }

        mutating func int64s(_ base: String, _ values: [Int]) -> String {
            var t = Onnx_TensorProto()
            t.name = unique(base)
            t.dataType = 7
            t.dims = [Int64(values.count)]
            t.int64Data = values.map(Int64.init)
            initializers.append(t)
            return t.name
        }

        /// Appends an ONNX node; `output` nil makes a fresh intermediate name.
        @discardableResult
        mutating func add(_ op: String, _ inputs: [String], _ output: String? = nil, name: String,
                          _ attributes: [Onnx_AttributeProto] = []) -> String {
            var n = Onnx_NodeProto()
            n.opType = op
            n.input = inputs
            let out = output ?? unique("\(name)/\(op)")
            n.output = [out]
            n.name = output == nil ? out : name
            n.attribute = attributes
            nodes.append(n)
            return out
        }

        func weight(_ node: Node, _ role: String) throws -> Tensor {
            guard let t = graph.weight(node, role) else { throw SRError.internalError("node '\(node.name)' lacks '\(role)'") }
            return t
        }

        mutating func lower(_ node: Node, shapes: [String: [Int]]) throws {
            let out = node.output, name = node.name
            let x = node.inputs.first ?? ""
            guard let xs = shapes[x] else { throw SRError.internalError("node '\(name)': no shape for '\(x)'") }
            /// Per-channel constants broadcast over the axes after the channel.
            func channelDims(_ count: Int) -> [Int] {
                count == 1 ? [1] : [count] + [Int](repeating: 1, count: max(xs.count - 2, 0))
            }
            switch node.op {
            case .conv2d(let a):
                var ins = [x, constant("\(name).weight", try weight(node, "weight"))]
                if let b = graph.weight(node, "bias") { ins.append(constant("\(name).bias", b)) }
                add("Conv", ins, out, name: name, [.ints("kernel_shape", a.kernel), .ints("strides", a.stride),
                                                   .ints("pads", a.pads), .ints("dilations", a.dilation), .int("group", a.group)])
            case .convTranspose2d(let t):
                var ins = [x, constant("\(name).weight", try weight(node, "weight"))]
                if let b = graph.weight(node, "bias") { ins.append(constant("\(name).bias", b)) }
                add("ConvTranspose", ins, out, name: name, [.ints("kernel_shape", t.conv.kernel), .ints("strides", t.conv.stride),
                                                            .ints("pads", t.conv.pads), .ints("dilations", t.conv.dilation),
                                                            .int("group", t.conv.group), .ints("output_padding", t.outputPadding)])
            case .linear where xs.count == 2:
                var ins = [x, constant("\(name).weight", try weight(node, "weight"))]
                if let b = graph.weight(node, "bias") { ins.append(constant("\(name).bias", b)) }
                add("Gemm", ins, out, name: name, [.int("transB", 1)])
            case .linear:
                // [N, …, in] · Wᵀ on the last axis: MatMul with W stored [in, out].
                let w = try weight(node, "weight")
                let wt = constant("\(name).weight", transpose2D(w))
                if let b = graph.weight(node, "bias") {
                    let m = add("MatMul", [x, wt], name: name)
                    add("Add", [m, constant("\(name).bias", b)], out, name: name)
                } else {
                    add("MatMul", [x, wt], out, name: name)
                }
            case .relu(let slope):
                if slope == 0 { add("Relu", [x], out, name: name) } else { add("LeakyRelu", [x], out, name: name, [.float("alpha", slope)]) }
            case .prelu:
                let s = try weight(node, "slope")
                add("PRelu", [x, constant("\(name).slope", s, dims: channelDims(s.count))], out, name: name)
            case .maxPool2d(let a):
                add("MaxPool", [x], out, name: name, [.ints("kernel_shape", a.kernel), .ints("strides", a.stride),
                                                      .ints("pads", try ONNXExporter.floorPads(a, input: xs, output: shapes[out]))])
            case .avgPool2d(let a):
                let pads = try ONNXExporter.floorPads(a, input: xs, output: shapes[out])
                let extra = [pads[2] - a.pads[2], pads[3] - a.pads[3]]
                if a.countIncludePad && a.pads.contains(where: { $0 > 0 }) {
                    // Zero padding counted in the divisor, the ceil overhang not.
                    let padded = add("Pad", [x, int64s("\(name).pads", [0, 0, a.pads[0], a.pads[1], 0, 0, a.pads[2], a.pads[3]])], name: name)
                    add("AveragePool", [padded], out, name: name, [.ints("kernel_shape", a.kernel), .ints("strides", a.stride),
                                                                   .ints("pads", [0, 0, extra[0], extra[1]]), .int("count_include_pad", 0)])
                } else {
                    add("AveragePool", [x], out, name: name, [.ints("kernel_shape", a.kernel), .ints("strides", a.stride),
                                                              .ints("pads", pads), .int("count_include_pad", 0)])
                }
            case .globalAvgPool: add("GlobalAveragePool", [x], out, name: name)
            case .globalMaxPool: add("GlobalMaxPool", [x], out, name: name)
            case .lrn(let a):
                if a.acrossChannels {
                    add("LRN", [x], out, name: name, [.int("size", a.size), .float("alpha", a.alpha), .float("beta", a.beta), .float("bias", a.k)])
                } else {
                    // Within channel: mean of x² over a size×size window (the divisor is
                    // always size², the padding counted), then x·(k + α·mean)^−β.
                    let before = (a.size - 1) / 2, after = a.size - 1 - before
                    let sq = add("Mul", [x, x], name: name)
                    let mean = add("AveragePool", [sq], name: name, [.ints("kernel_shape", [a.size, a.size]), .ints("strides", [1, 1]),
                                                                    .ints("pads", [before, before, after, after]), .int("count_include_pad", 1)])
                    let scaled = add("Mul", [mean, constant("\(name).alpha", [a.alpha], dims: [])], name: name)
                    let base = add("Add", [scaled, constant("\(name).k", [a.k], dims: [])], name: name)
                    let factor = add("Pow", [base, constant("\(name).negbeta", [-a.beta], dims: [])], name: name)
                    add("Mul", [x, factor], out, name: name)
                }
            case .batchNorm(let eps):
                let mean = try weight(node, "mean"), variance = try weight(node, "variance")
                let c = mean.count
                let scale = graph.weight(node, "scale").map { constant("\(name).scale", $0) } ?? constant("\(name).scale", [Float](repeating: 1, count: c), dims: [c])
                let bias = graph.weight(node, "bias").map { constant("\(name).bias", $0) } ?? constant("\(name).bias", [Float](repeating: 0, count: c), dims: [c])
                add("BatchNormalization", [x, scale, bias, constant("\(name).mean", mean), constant("\(name).variance", variance)],
                    out, name: name, [.float("epsilon", eps)])
            case .scale(let axis):
                // Values along `axis`, broadcast over the axes after it.
                func dims(_ count: Int) -> [Int] { count == 1 ? [1] : [count] + [Int](repeating: 1, count: max(xs.count - 1 - axis, 0)) }
                let w = try weight(node, "weight")
                if let b = graph.weight(node, "bias") {
                    let m = add("Mul", [x, constant("\(name).weight", w, dims: dims(w.count))], name: name)
                    add("Add", [m, constant("\(name).bias", b, dims: dims(b.count))], out, name: name)
                } else {
                    add("Mul", [x, constant("\(name).weight", w, dims: dims(w.count))], out, name: name)
                }
            case .add: add("Sum", node.inputs, out, name: name)
            case .max: add("Max", node.inputs, out, name: name)
            case .mul:
                var acc = node.inputs[0]
                for (i, other) in node.inputs.dropFirst().enumerated() {
                    acc = add("Mul", [acc, other], i == node.inputs.count - 2 ? out : nil, name: name)
                }
            case .concat(let axis): add("Concat", node.inputs, out, name: name, [.int("axis", axis)])
            case .flatten: add("Flatten", [x], out, name: name, [.int("axis", 1)])
            case .reshape(let shape): add("Reshape", [x, int64s("\(name).shape", [0] + shape)], out, name: name)
            case .softmax(let axis): add("Softmax", [x], out, name: name, [.int("axis", axis)])
            case .sigmoid: add("Sigmoid", [x], out, name: name)
            case .tanh: add("Tanh", [x], out, name: name)
            case .thresholdedRelu(let t): add("ThresholdedRelu", [x], out, name: name, [.float("alpha", t)])
            case .power(let e): add("Pow", [x, constant("\(name).exponent", [e], dims: [])], out, name: name)
            case .clip(let lo, let hi):
                add("Clip", [x, constant("\(name).min", [lo], dims: []), constant("\(name).max", [hi], dims: [])], out, name: name)
            case .pad(let pads, let value):
                add("Pad", [x, int64s("\(name).pads", [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]]),
                            constant("\(name).value", [value], dims: [])], out, name: name)
            case .identity: add("Identity", [x], out, name: name)
            case .transpose(let perm): add("Transpose", [x], out, name: name, [.ints("perm", perm)])
            case .reduce(let a):
                let keep = Onnx_AttributeProto.int("keepdims", a.keepDims ? 1 : 0)
                switch a.kind {
                case .sum: add("ReduceSum", [x, int64s("\(name).axes", a.axes)], out, name: name, [keep])
                case .mean: add("ReduceMean", [x], out, name: name, [.ints("axes", a.axes), keep])
                case .max: add("ReduceMax", [x], out, name: name, [.ints("axes", a.axes), keep])
                case .min: add("ReduceMin", [x], out, name: name, [.ints("axes", a.axes), keep])
                }
            case .slice(let axis, let start, let end, let step):
                add("Slice", [x, int64s("\(name).starts", [start]), int64s("\(name).ends", [end]),
                              int64s("\(name).axes", [axis]), int64s("\(name).steps", [step])], out, name: name)
            case .unary(let f): lowerUnary(f, x, out, name: name)
            case .matmul: add("MatMul", node.inputs, out, name: name)
            case .resize(let r):
                var attributes: [Onnx_AttributeProto] = [.string("mode", r.mode.rawValue), .string("coordinate_transformation_mode", r.coordinates.rawValue)]
                if r.mode == .nearest { attributes.append(.string("nearest_mode", r.rounding.rawValue)) }
                // Scales when they give the size exactly (the coordinates then use them), else sizes.
                let exact = (0..<2).allSatisfy { Int((Float(xs[2 + $0]) * r.scales[$0]).rounded(.down)) == r.size[$0] }
                let roi = constant("\(name).roi", [], dims: [0])
                if exact {
                    add("Resize", [x, roi, constant("\(name).scales", [1, 1] + r.scales, dims: [4])], out, name: name, attributes)
                } else {
                    let nc = add("Shape", [x], name: name, [.int("start", 0), .int("end", 2)])
                    let sizes = add("Concat", [nc, int64s("\(name).size", r.size)], name: name, [.int("axis", 0)])
                    add("Resize", [x, roi, "", sizes], out, name: name, attributes)
                }
            case .batchConstant:
                // Expand(value, [N of x] ++ value's other dims).
                let v = try weight(node, "value")
                let n = add("Shape", [x], name: name, [.int("start", 0), .int("end", 1)])
                let dims = add("Concat", [n, int64s("\(name).dims", Array(v.shape.dropFirst()))], name: name, [.int("axis", 0)])
                add("Expand", [constant("\(name).value", v), dims], out, name: name)
            case .layerNorm(let axis, let eps):
                let normalized = Array(xs[axis...])
                let count = normalized.reduce(1, *)
                let scale = graph.weight(node, "scale").map { constant("\(name).scale", $0, dims: normalized) }
                    ?? constant("\(name).scale", [Float](repeating: 1, count: count), dims: normalized)
                var ins = [x, scale]
                if let b = graph.weight(node, "bias") { ins.append(constant("\(name).bias", b, dims: normalized)) }
                add("LayerNormalization", ins, out, name: name, [.int("axis", axis), .float("epsilon", eps)])
            }
        }

        /// The element-wise functions: one ONNX op where opset 17 has it, else its equation.
        mutating func lowerUnary(_ f: UnaryFunction, _ x: String, _ out: String, name: String) {
            func scalar(_ tag: String, _ v: Float) -> String { constant("\(name).\(tag)", [v], dims: []) }
            switch f {
            case .erf: add("Erf", [x], out, name: name)
            case .exp: add("Exp", [x], out, name: name)
            case .log: add("Log", [x], out, name: name)
            case .sqrt: add("Sqrt", [x], out, name: name)
            case .neg: add("Neg", [x], out, name: name)
            case .abs: add("Abs", [x], out, name: name)
            case .reciprocal: add("Reciprocal", [x], out, name: name)
            case .hardSwish: add("HardSwish", [x], out, name: name)
            case .hardSigmoid(let a, let b): add("HardSigmoid", [x], out, name: name, [.float("alpha", a), .float("beta", b)])
            case .elu(let a): add("Elu", [x], out, name: name, [.float("alpha", a)])
            case .selu(let a, let g): add("Selu", [x], out, name: name, [.float("alpha", a), .float("gamma", g)])
            case .softplus: add("Softplus", [x], out, name: name)
            case .softsign: add("Softsign", [x], out, name: name)
            case .silu:
                add("Mul", [x, add("Sigmoid", [x], name: name)], out, name: name)
            case .mish:
                add("Mul", [x, add("Tanh", [add("Softplus", [x], name: name)], name: name)], out, name: name)
            case .gelu:
                // 0.5·x·(1 + erf(x/√2))
                let e = add("Erf", [add("Div", [x, scalar("sqrt2", Float(2.0.squareRoot()))], name: name)], name: name)
                let h = add("Mul", [add("Add", [e, scalar("one", 1)], name: name), scalar("half", 0.5)], name: name)
                add("Mul", [x, h], out, name: name)
            case .geluTanh:
                // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                let cube = add("Mul", [add("Mul", [x, x], name: name), x], name: name)
                let inner = add("Add", [x, add("Mul", [cube, scalar("c", 0.044715)], name: name)], name: name)
                let t = add("Tanh", [add("Mul", [inner, scalar("k", Float((2 / Double.pi).squareRoot()))], name: name)], name: name)
                let h = add("Mul", [add("Add", [t, scalar("one", 1)], name: name), scalar("half", 0.5)], name: name)
                add("Mul", [x, h], out, name: name)
            }
        }
    }

    /// Pads `[top, left, bottom, right]` that give `output` in ONNX's floor mode: the end
    /// pads grow by the ceil overhang (pooling ignores padded positions for max, and the
    /// average excludes them).
    static func floorPads(_ a: Pool2DAttributes, input: [Int], output: [Int]?) throws -> [Int] {
        guard let output, output.count == 4, input.count == 4 else { throw SRError.internalError("pooling without shapes") }
        var pads = a.pads
        for axis in 0..<2 {
            let need = (output[2 + axis] - 1) * a.stride[axis] + a.kernel[axis] - (input[2 + axis] + a.pads[axis] + a.pads[axis + 2])
            pads[axis + 2] += max(need, 0)
            guard pads[axis + 2] < a.kernel[axis] else {
                throw SRError.unsupported("pooling window \(a.kernel) with end padding \(pads[axis + 2]) cannot be written as ONNX")
            }
        }
        return pads
    }
}

private extension Onnx_AttributeProto {
    static func int(_ name: String, _ v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
    }
    static func ints(_ name: String, _ v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map(Int64.init); return a
    }
    static func string(_ name: String, _ v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }
    static func float(_ name: String, _ v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }
}
