import CKernels
import Foundation
import SRCore

/// The op table: each ONNX op type → canonical nodes. Ops whose inputs are all constant
/// are folded (`ONNXConstantFolding.swift`); identity-like ops become aliases.
extension ONNXGraphBuilder {
    func lower(_ proto: Onnx_NodeProto, index: Int) throws {
        let name = nodeName(proto, index)
        let a = ONNXAttributes(proto, name: name)
        let op = proto.opType
        guard proto.domain.isEmpty || proto.domain == "ai.onnx" else {
            throw SRError.unsupported("node '\(name)': op '\(proto.domain).\(op)' is not supported")
        }
        let inputs = proto.input
        let present = inputs.filter { !$0.isEmpty }
        if try fold(proto, attributes: a) { return }
        guard let x = inputs.first.map(resolve), !x.isEmpty else {
            throw a.fail("has no input")
        }
        guard let out = proto.output.first, !out.isEmpty else { throw a.fail("has no output") }
        func emit(_ o: Op, _ ins: [String] = [x], params: [String: String] = [:], named: String? = nil) throws {
            try self.emit(Node(name: named ?? name, op: o, inputs: ins, outputs: [out], params: params))
        }
        func onlyFirstOutputUsed() throws {
            for o in proto.output.dropFirst() where !o.isEmpty && isConsumed(o) {
                throw SRError.unsupported("node '\(name)' (\(op)): output '\(o)' is not supported")
            }
        }
        func weight(_ i: Int, _ role: String) throws -> Tensor {
            guard i < inputs.count, !inputs[i].isEmpty, let c = constant(inputs[i]) else {
                throw SRError.unsupported("node '\(name)' (\(op)): \(role) must be a constant (initializer)")
            }
            return try c.floatTensor("node '\(name)' \(role)")
        }
        func optionalWeight(_ i: Int, _ role: String) throws -> Tensor? {
            guard i < inputs.count, !inputs[i].isEmpty else { return nil }
            return try weight(i, role)
        }
        if batchMoves[x] != nil {
            switch op {
            case "Split": return try splitBatchMove(proto, name: name, attributes: a, moved: x)
            case "Gather":
                guard try a.int("axis", 0) == 0, inputs.count > 1, let c = constant(inputs[1]), c.shape.isEmpty,
                      let k = try c.intValues("node '\(name)' indices").first else {
                    throw SRError.unsupported("node '\(name)' (Gather): only one index of the first axis of a transpose that moves the batch axis is supported")
                }
                return try takeFromBatchMove(x, index: k < 0 ? k + (shape(batchMoves[x]?.input ?? "")?[batchMoves[x]?.perm[0] ?? 0] ?? 0) : k,
                                             name: name, output: out)
            default:
                throw SRError.unsupported("node '\(name)' (\(op)): reads '\(x)', a transpose that moves the batch axis; srtool reads such a tensor only through a Split or Gather of single slices of its first axis")
            }
        }
        if op == "Squeeze", let taken = squeezedFirstAxis[x] {
            var axes = try a.ints("axes") ?? []
            if axes.isEmpty, inputs.count > 1, let c = constant(inputs[1]) { axes = try c.intValues("node '\(name)' axes") }
            guard axes == [0] else { throw SRError.unsupported("node '\(name)' (Squeeze): axes \(axes) of a slice of a batch-moving transpose") }
            alias(out, to: taken)
            return
        }
        if ["Add", "Sum", "Mul", "Max", "Sub", "Div"].contains(op) {
            // The activation may be any operand (`bias + x`).
            return try lowerElementwise(proto, name: name, attributes: a)
        }
        if op == "Concat", shape(x) == nil, let computed = present.first(where: { shape($0) != nil }) {
            return try lowerConcat(proto, name: name, attributes: a, like: resolve(computed))  // a class token first
        }
        guard let xShape = shape(x) else {
            throw SRError.unsupported("node '\(name)' (\(op)): input '\(x)' is a constant, and srtool cannot fold \(op)")
        }

        switch op {
        case "Conv":
            let w = try weight(1, "weight")
            guard w.rank == 4, xShape.count == 4 else {
                throw SRError.unsupported("node '\(name)' (Conv): only 2-D convolution is supported (weight \(w.shape))")
            }
            let kernel = try a.ints("kernel_shape") ?? [w.shape[2], w.shape[3]]
            let stride = try a.ints("strides") ?? [1, 1]
            let dilation = try a.ints("dilations") ?? [1, 1]
            guard kernel.count == 2, stride.count == 2, dilation.count == 2,
                  stride.allSatisfy({ $0 >= 1 }), dilation.allSatisfy({ $0 >= 1 }) else {
                throw a.fail("bad kernel_shape/strides/dilations")
            }
            let pads = try padding(a, input: xShape, kernel: kernel, stride: stride, dilation: dilation)
            var params = ["weight": addWeight(w, name: inputs[1])]
            if let b = try optionalWeight(2, "bias") { params["bias"] = addWeight(b, name: inputs[2]) }
            try emit(.conv2d(Conv2DAttributes(kernel: kernel, stride: stride, pads: pads, dilation: dilation,
                                              group: try a.int("group", 1))), params: params)
        case "Resize", "Upsample":
            try lowerResize(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "ConvTranspose":
            let w = try weight(1, "weight")
            guard w.rank == 4, xShape.count == 4 else {
                throw SRError.unsupported("node '\(name)' (ConvTranspose): only 2-D transposed convolution is supported (weight \(w.shape))")
            }
            let kernel = try a.ints("kernel_shape") ?? [w.shape[2], w.shape[3]]
            let stride = try a.ints("strides") ?? [1, 1]
            let dilation = try a.ints("dilations") ?? [1, 1]
            let outputPadding = try a.ints("output_padding") ?? [0, 0]
            guard kernel.count == 2, stride.count == 2, dilation.count == 2, outputPadding.count == 2 else {
                throw a.fail("bad kernel_shape/strides/dilations/output_padding")
            }
            let autoPad = try a.string("auto_pad") ?? "NOTSET"
            var pads = try a.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, (kernel + stride + dilation).allSatisfy({ $0 >= 1 && $0 < 1 << 20 }) else {
                throw a.fail("bad pads \(pads) or kernel_shape/strides/dilations")
            }
            // ONNX: an output_shape (or SAME: input·stride) sets the pads; the odd one goes at
            // the end for SAME_UPPER, at the start otherwise.
            var wanted = try a.ints("output_shape")
            if wanted == nil, autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" { wanted = [xShape[2] * stride[0], xShape[3] * stride[1]] }
            if var target = wanted {
                if target.count == 4 { target = Array(target.suffix(2)) }
                guard target.count == 2 else { throw a.fail("bad output_shape \(target)") }
                for i in 0..<2 {
                    let total = stride[i] * (xShape[2 + i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilation[i] + 1 - target[i]
                    guard total >= 0 else {
                        throw SRError.unsupported("node '\(name)' (ConvTranspose): output_shape \(target) is larger than the kernel reaches")
                    }
                    let small = total / 2
                    (pads[i], pads[i + 2]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small)
                }
            } else if !["NOTSET", "VALID", ""].contains(autoPad) {
                throw a.fail("unknown auto_pad '\(autoPad)'")
            }
            var params = ["weight": addWeight(w, name: inputs[1])]
            if let b = try optionalWeight(2, "bias") { params["bias"] = addWeight(b, name: inputs[2]) }
            let conv = Conv2DAttributes(kernel: kernel, stride: stride, pads: pads, dilation: dilation, group: try a.int("group", 1))
            try emit(.convTranspose2d(ConvTranspose2DAttributes(conv: conv, outputPadding: outputPadding)), params: params)
        case "Gemm":
            guard try a.int("transA", 0) == 0 else {
                throw SRError.unsupported("node '\(name)' (Gemm): transA = 1 on an activation is not supported")
            }
            // 2-D in the file; a per-sample input has srtool's batch axis in front.
            guard xShape.count == 2 || isPerSample(x) && xShape.count == 3 else { throw a.fail("input must be 2-D, got \(xShape)") }
            var w = try weight(1, "B")
            guard w.rank == 2 else { throw a.fail("B must be 2-D, got \(w.shape)") }
            if try a.int("transB", 0) == 0 { w = transpose2D(w) }
            let alpha = try a.float("alpha", 1), beta = try a.float("beta", 1)
            if alpha != 1 { w = scaled(w, by: alpha) }
            var params = ["weight": addWeight(w, name: alpha == 1 ? inputs[1] : "\(name).weight")]
            if let c = try optionalWeight(2, "C") {
                let bias = try broadcastVector(c, to: w.shape[0], what: "node '\(name)' (Gemm) C")
                params["bias"] = addWeight(scaled(bias, by: beta), name: "\(name).bias")
            }
            try emit(.linear, params: params)
        case "MatMul":
            guard xShape.count >= 2 else {
                throw SRError.unsupported("node '\(name)' (MatMul): only [N, …, K] × constant [K, M] is supported, input is \(xShape)")
            }
            if inputs.count > 1, shape(inputs[1]) != nil {
                try emit(.matmul, [x, resolve(inputs[1])])  // attention: both operands computed
                return
            }
            let b = try weight(1, "B")
            guard b.rank == 2, b.shape[0] == xShape[xShape.count - 1] else {
                throw SRError.unsupported("node '\(name)' (MatMul): B must be a constant [\(xShape[xShape.count - 1]), M], got \(b.shape)")
            }
            try emit(.linear, params: ["weight": addWeight(transpose2D(b), name: "\(name).weight")])
        case "MaxPool", "AveragePool":
            try onlyFirstOutputUsed()
            guard xShape.count == 4 else { throw SRError.unsupported("node '\(name)' (\(op)): only 2-D pooling is supported") }
            guard let kernel = try a.ints("kernel_shape"), kernel.count == 2 else { throw a.fail("needs a 2-D kernel_shape") }
            let stride = try a.ints("strides") ?? [1, 1]
            guard stride.count == 2, stride.allSatisfy({ $0 >= 1 }), kernel.allSatisfy({ $0 >= 1 }) else {
                throw a.fail("bad kernel_shape/strides")
            }
            let dilation = try a.ints("dilations") ?? [1, 1]
            guard dilation.count == 2 else { throw a.fail("bad dilations \(dilation)") }
            let pads = try padding(a, input: xShape, kernel: kernel, stride: stride, dilation: dilation)
            if dilation != [1, 1] {
                return try lowerDilatedPool(max: op == "MaxPool", name: name, input: x, shape: xShape, kernel: kernel, stride: stride,
                                            dilation: dilation, pads: pads, ceilMode: try a.int("ceil_mode", 0) != 0,
                                            countIncludePad: try a.int("count_include_pad", 0) != 0, output: out)
            }
            let attrs = Pool2DAttributes(kernel: kernel, stride: stride, pads: pads, ceilMode: try a.int("ceil_mode", 0) != 0,
                                         countIncludePad: try a.int("count_include_pad", 0) != 0)
            try emit(op == "MaxPool" ? .maxPool2d(attrs) : .avgPool2d(attrs))
        case "GlobalAveragePool": try emit(.globalAvgPool)
        case "GlobalMaxPool": try emit(.globalMaxPool)
        case "LRN":
            let size = try a.int("size", 0)
            guard size >= 1 else { throw a.fail("LRN needs a positive size") }
            try emit(.lrn(LRNAttributes(size: size, alpha: try a.float("alpha", 1e-4), beta: try a.float("beta", 0.75),
                                        k: try a.float("bias", 1), acrossChannels: true)))
        case "BatchNormalization":
            try onlyFirstOutputUsed()
            if try a.int("training_mode", 0) != 0 {
                throw SRError.unsupported("node '\(name)' (BatchNormalization): training_mode is not supported")
            }
            let roles = [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")]
            var params: [String: String] = [:]
            for (i, role) in roles { params[role] = addWeight(try weight(i, role), name: inputs[i]) }
            try emit(.batchNorm(epsilon: try a.float("epsilon", 1e-5)), params: params)
        case "Relu": try emit(.relu(slope: 0))
        case "LeakyRelu": try emit(.relu(slope: try a.float("alpha", 0.01)))
        case "PRelu":
            let slope = try weight(1, "slope")
            guard let v = channelVector(slope, activation: xShape) else {
                throw SRError.unsupported("node '\(name)' (PRelu): slope of shape \(slope.shape) is not per-channel")
            }
            try emit(.prelu, params: ["slope": addWeight(try Tensor(shape: [v.count], values: v), name: inputs[1])])
        case "Sigmoid": try emit(.sigmoid)
        case "Tanh": try emit(.tanh)
        case "ThresholdedRelu": try emit(.thresholdedRelu(threshold: try a.float("alpha", 1)))
        case "Pow":
            let e = try weight(1, "exponent")
            guard e.count == 1 else { throw SRError.unsupported("node '\(name)' (Pow): only a scalar constant exponent is supported") }
            try emit(.power(exponent: e.values[0]))
        case "Clip":
            var lo = -Float.greatestFiniteMagnitude, hi = Float.greatestFiniteMagnitude
            if opset < 11 {
                lo = try a.float("min", lo); hi = try a.float("max", hi)
            } else {
                if let t = try optionalWeight(1, "min") { lo = t.values.first ?? lo }
                if let t = try optionalWeight(2, "max") { hi = t.values.first ?? hi }
            }
            try emit(.clip(min: lo, max: hi))
        case "Concat":
            try lowerConcat(proto, name: name, attributes: a, like: x)
        case "Flatten":
            var axis = try a.int("axis", 1)
            if axis < 0 { axis += xShape.count }
            if axis == 1 { try emit(.flatten) } else {
                throw SRError.unsupported("node '\(name)' (Flatten): axis \(axis) would merge the batch axis")
            }
        case "Expand":
            // Broadcast to a constant shape: the input plus zeros of the broadcast shape.
            guard inputs.count > 1, let c = constant(inputs[1]) else { throw SRError.unsupported("node '\(name)' (Expand): the shape must be constant") }
            let dims = try c.intValues("node '\(name)' shape")
            guard let target = Shape.broadcast([xShape, dims]), target.count == xShape.count,
                  target.first == xShape.first, let n = Shape.elementCount(target), n <= 1 << 24 else {
                throw SRError.unsupported("node '\(name)' (Expand): \(xShape) to \(dims) changes the batch axis")
            }
            if target == xShape { alias(out, to: x); return }
            let zeros = try batchConstant(.floats(Tensor(zeros: [1] + target.dropFirst())), rank: target.count, like: x, name: name)
            try emit(.add, [x, zeros])
        case "Einsum":
            try lowerEinsum(proto, name: name, attributes: a, output: out)
        case "Gather":
            try lowerGather(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "Transpose":
            try lowerTranspose(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2":
            try lowerReduce(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "Slice":
            try lowerSlice(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "Split":
            try lowerSplit(proto, name: name, attributes: a, input: x, shape: xShape)
        case "RMSNormalization":
            try lowerRMSNorm(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "LayerNormalization":
            try lowerLayerNorm(proto, name: name, attributes: a, input: x, shape: xShape, output: out)
        case "Reshape", "Squeeze", "Unsqueeze":
            let target = try reshapeTarget(proto, name: name, attributes: a, input: xShape)
            if target == xShape { alias(out, to: x) } else { try emit(.reshape(shape: Array(target.dropFirst()))) }
        case "Pad":
            let mode = try a.string("mode") ?? "constant"
            guard mode == "constant" else { throw SRError.unsupported("node '\(name)' (Pad): mode '\(mode)' is not supported") }
            var pads: [Int]
            var value: Float = 0
            if opset < 11 {
                pads = try a.ints("pads") ?? []
                value = try a.float("value", 0)
            } else {
                guard inputs.count > 1, let p = constant(inputs[1]) else { throw a.fail("pads must be a constant") }
                pads = try p.intValues("node '\(name)' pads")
                if inputs.count > 2, !inputs[2].isEmpty, let v = constant(inputs[2]) { value = v.floatValues().first ?? 0 }
                if inputs.count > 3, !inputs[3].isEmpty {
                    // Opset 18: pads for the listed axes only (begins, then ends).
                    guard let c = constant(inputs[3]) else { throw SRError.unsupported("node '\(name)' (Pad): the axes must be constant") }
                    let axes = try c.intValues("node '\(name)' axes").map { $0 < 0 ? $0 + xShape.count : $0 }
                    guard pads.count == 2 * axes.count, axes.allSatisfy({ $0 >= 0 && $0 < xShape.count }), Set(axes).count == axes.count else {
                        throw a.fail("pads \(pads) for axes \(axes) of a rank-\(xShape.count) input")
                    }
                    var full = [Int](repeating: 0, count: 2 * xShape.count)
                    for (k, axis) in axes.enumerated() { full[axis] = pads[k]; full[axis + xShape.count] = pads[k + axes.count] }
                    pads = full
                }
            }
            guard pads.count == 2 * xShape.count else { throw a.fail("\(pads.count) pads for a rank-\(xShape.count) input") }
            if pads.allSatisfy({ $0 == 0 }) { alias(out, to: x); return }
            try lowerPad(name: name, input: x, shape: xShape, pads: pads, value: value, output: out)
        case "Softmax":
            var axis = try a.int("axis", opset < 13 ? 1 : -1)
            if axis < 0 { axis += xShape.count }
            guard axis >= 0, axis < xShape.count else { throw a.fail("axis \(axis) out of range") }
            let trailing = xShape[(axis + 1)...].allSatisfy({ $0 == 1 })
            if opset < 13 && !trailing && axis != xShape.count - 1 {
                throw SRError.unsupported("node '\(name)' (Softmax): opset-\(opset) softmax over flattened axes \(axis)… of \(xShape) is not supported")
            }
            guard axis >= 1 else { throw SRError.unsupported("node '\(name)' (Softmax): softmax across the batch axis is not supported") }
            try emit(.softmax(axis: axis))
        case "Dropout", "Identity":
            try onlyFirstOutputUsed()
            if op == "Dropout", inputs.count > 2, !inputs[2].isEmpty {
                guard let mode = constant(inputs[2]), mode.floatValues().allSatisfy({ $0 == 0 }) else {
                    throw SRError.unsupported("node '\(name)' (Dropout): training mode is not supported")
                }
            }
            alias(out, to: x)
        default:
            guard let f = try unaryFunction(op, a) else {
                throw SRError.unsupported("node '\(name)': op '\(op)' is not supported")
            }
            try emit(.unary(f))
        }
    }

    /// Add / Sum / Mul / Max between activations, or with a per-channel or scalar constant
    /// (then lowered to `scale`: Add/Sub shift, Mul/Div multiply).
    private func lowerElementwise(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes) throws {
        let op = proto.opType
        let ins = proto.input.filter { !$0.isEmpty }
        let out = proto.output.first ?? name
        let activations = ins.filter { shape($0) != nil }
        let constantInputs = ins.filter { shape($0) == nil }
        if constantInputs.isEmpty {
            let o: Op
            switch op {
            case "Add", "Sum": o = .add
            case "Mul":
                if try fuseSiLU(activations, name: name, output: out) { return }
                o = .mul
            case "Max": o = .max
            case "Sub", "Div":
                // a − b = a + (−1)·b; a ÷ b = a · (1/b).
                guard activations.count == 2 else { throw a.fail("needs two inputs") }
                let other = freshTensor(out)
                if op == "Sub" {
                    let minusOne = addWeight(try Tensor(shape: [1], values: [-1]), name: "\(name).weight")
                    try emit(Node(name: name, op: .scale(axis: 1), inputs: [activations[1]], outputs: [other], params: ["weight": minusOne]))
                } else {
                    try emit(Node(name: name, op: .unary(.reciprocal), inputs: [activations[1]], outputs: [other]))
                }
                try emit(Node(name: name, op: op == "Sub" ? .add : .mul, inputs: [activations[0], other], outputs: [out]))
                return
            default: throw SRError.unsupported("node '\(name)' (\(op)) between two activations is not supported")
            }
            try emit(Node(name: name, op: o, inputs: activations, outputs: [out]))
            return
        }
        guard ins.count == 2, activations.count == 1, let xs = shape(activations[0]),
              let c = constant(constantInputs[0]) else {
            throw SRError.unsupported("node '\(name)' (\(op)): unsupported mix of constant and activation inputs")
        }
        guard let (v, axis) = axisVector(shape: c.shape, values: c.floatValues(), activation: xs) else {
            // Varies along several axes (a position embedding): a batch constant, combined.
            let t = try c.floatTensor("node '\(name)' constant")
            let constantFirst = ins[0] == constantInputs[0]
            let operand: ONNXConstant
            switch op {
            case "Add", "Sum", "Mul": operand = c
            case "Sub" where !constantFirst: operand = .floats(scaled(t, by: -1))
            case "Div" where !constantFirst:
                operand = .floats(try Tensor(shape: t.shape, values: t.values.map { 1 / $0 }))
            default:
                throw SRError.unsupported("node '\(name)' (\(op)): constant \(op == "Sub" ? "−" : "÷") activation is not supported")
            }
            guard let rank = Shape.broadcast([xs, c.shape])?.count, rank == xs.count else {
                throw SRError.unsupported("node '\(name)' (\(op)): constant of shape \(c.shape) does not broadcast to \(xs)")
            }
            let k = try batchConstant(operand, rank: rank, like: activations[0], name: name)
            try emit(Node(name: name, op: op == "Mul" || op == "Div" ? .mul : .add, inputs: [activations[0], k], outputs: [out]))
            return
        }
        let constantFirst = ins[0] == constantInputs[0]
        var w = [Float](repeating: 1, count: v.count)
        var b = [Float](repeating: 0, count: v.count)
        switch op {
        case "Add", "Sum": b = v
        case "Sub": if constantFirst { w = w.map { -$0 }; b = v } else { b = v.map { -$0 } }
        case "Mul": w = v
        case "Div":
            guard !constantFirst else { throw SRError.unsupported("node '\(name)' (Div): constant ÷ activation is not supported") }
            w = v.map { 1 / $0 }
        default: throw SRError.unsupported("node '\(name)' (\(op)) with a constant is not supported")
        }
        var params = ["weight": addWeight(try Tensor(shape: [w.count], values: w), name: "\(name).weight")]
        if b.contains(where: { $0 != 0 }) {
            params["bias"] = addWeight(try Tensor(shape: [b.count], values: b), name: "\(name).bias")
        }
        // x·1 + b after a bias-free linear layer is that layer's bias (MatMul + Add).
        if w.allSatisfy({ $0 == 1 }), try fuseBias(into: activations[0], bias: b, axis: v.count == 1 ? nil : axis, output: out) { return }
        if w.count == 1, b == [0], try fuseGELU(activations[0], factor: w[0], name: name, output: out) { return }
        try emit(Node(name: name, op: .scale(axis: axis), inputs: [activations[0]], outputs: [out], params: params))
    }

    /// Values of a constant that broadcasts over `activation` along the channel axis only
    /// (length C) or as a scalar (length 1); nil otherwise.
    func channelVector(_ c: ONNXConstant, activation s: [Int]) -> [Float]? {
        axisVector(shape: c.shape, values: c.floatValues(), activation: s).flatMap { $0.1 == 1 || $0.0.count == 1 ? $0.0 : nil }
    }

    func channelVector(_ t: Tensor, activation s: [Int]) -> [Float]? {
        axisVector(shape: t.shape, values: t.values, activation: s).flatMap { $0.1 == 1 || $0.0.count == 1 ? $0.0 : nil }
    }

    /// Values of a constant that broadcasts over `activation` along one non-batch axis
    /// (length of that axis) with that axis, or a scalar (axis 1); nil otherwise.
    func axisVector(shape cs: [Int], values: [Float], activation s: [Int]) -> ([Float], Int)? {
        guard cs.count <= s.count, s.count >= 2 else { return nil }
        let padded = [Int](repeating: 1, count: s.count - cs.count) + cs
        let varying = padded.indices.filter { padded[$0] != 1 }
        if varying.isEmpty { return values.count == 1 ? (values, 1) : nil }
        guard varying.count == 1, let axis = varying.first, axis >= 1, padded[axis] == s[axis], values.count == s[axis] else { return nil }
        return (values, axis)
    }

    /// The full target shape of Reshape / Squeeze / Unsqueeze on
    /// `input`, with the batch axis kept; refuses reshapes that move data across samples.
    private func reshapeTarget(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes,
                               input s: [Int]) throws -> [Int] {
        let op = proto.opType
        func axesArgument() throws -> [Int] {
            if let axes = try a.ints("axes") { return axes }
            guard proto.input.count > 1, let c = constant(proto.input[1]) else { return [] }
            return try c.intValues("node '\(name)' axes")
        }
        var target: [Int]
        switch op {
        case "Reshape":
            guard proto.input.count > 1, let c = constant(proto.input[1]) else {
                throw SRError.unsupported("node '\(name)' (Reshape): the shape must be constant")
            }
            let t = try c.intValues("node '\(name)' shape")
            let allowZero = try a.int("allowzero", 0) != 0
            target = try resolveReshape(t, input: s, allowZero: allowZero, node: name)
        case "Squeeze":
            let axes = try axesArgument().map { $0 < 0 ? $0 + s.count : $0 }
            target = s.enumerated().filter { i, d in axes.isEmpty ? (i == 0 || d != 1) : !axes.contains(i) }.map(\.1)
        default:
            let rank = s.count + (try axesArgument()).count
            let axes = try axesArgument().map { $0 < 0 ? $0 + rank : $0 }
            var it = s.makeIterator()
            target = try (0..<rank).map { i in
                if axes.contains(i) { return 1 }
                guard let d = it.next() else { throw a.fail("bad axes for input \(s)") }
                return d
            }
        }
        guard target.first == s.first, Shape.elementCount(target) == Shape.elementCount(s) else {
            throw SRError.unsupported("node '\(name)' (\(op)): \(s) → \(target) changes the batch axis")
        }
        return target
    }

    /// ONNX Reshape: 0 copies the input dim (unless allowzero), one −1 is inferred.
    private func resolveReshape(_ t: [Int], input s: [Int], allowZero: Bool, node: String) throws -> [Int] {
        var out = t
        for (i, d) in t.enumerated() where d == 0 && !allowZero {
            guard i < s.count else { throw SRError.malformed("node '\(node)' (Reshape): 0 at axis \(i) beyond the input rank") }
            out[i] = s[i]
        }
        let total = Shape.elementCount(s) ?? 0
        let minus = out.indices.filter { out[$0] == -1 }
        guard minus.count <= 1, out.allSatisfy({ $0 >= -1 }) else {
            throw SRError.malformed("node '\(node)' (Reshape): invalid target shape \(t)")
        }
        if let m = minus.first {
            var rest = out
            rest.remove(at: m)
            guard let known = Shape.elementCount(rest), known > 0, total % known == 0 else {
                throw SRError.malformed("node '\(node)' (Reshape): cannot reshape \(s) to \(t)")
            }
            out[m] = total / known
        }
        return out
    }

}

/// Small tensor helpers for lowering.
/// `t` [r, c] as [c, r] (`srk_transpose`: in 16 × 16 tiles, 3 ns a value → a fraction).
func transpose2D(_ t: Tensor) -> Tensor {
    let r = t.shape[0], c = t.shape[1]
    let out = Tensor(uninitialized: [c, r])
    srk_transpose(t.pointer, Int32(r), Int32(c), c, out.pointer, r)
    return out
}

func scaled(_ t: Tensor, by s: Float) -> Tensor {
    let out = Tensor(zeros: t.shape)
    for i in 0..<t.count { out.pointer[i] = t.pointer[i] * s }
    return out
}

/// A bias given as [M], [1, M] or a scalar, expanded to [M].
func broadcastVector(_ t: Tensor, to m: Int, what: String) throws -> Tensor {
    if t.count == m && t.shape.filter({ $0 != 1 }).count <= 1 { return try t.reshaped([m]) }
    if t.count == 1 { return try Tensor(shape: [m], values: [Float](repeating: t.pointer[0], count: m)) }
    throw SRError.unsupported("\(what): shape \(t.shape) does not broadcast to [\(m)]")
}

extension ONNXGraphBuilder {
    /// Explicit pads `[top, left, bottom, right]` from `pads` or `auto_pad`
    /// (SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the start).
    func padding(_ a: ONNXAttributes, input s: [Int], kernel: [Int], stride: [Int], dilation: [Int]) throws -> [Int] {
        let mode = try a.string("auto_pad") ?? "NOTSET"
        switch mode {
        case "NOTSET", "":
            let pads = try a.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw a.fail("bad pads \(pads)") }
            return pads
        case "VALID":
            return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            guard (kernel + stride + dilation).allSatisfy({ $0 >= 1 && $0 < 1 << 31 }) else {
                throw a.fail("bad kernel_shape/strides/dilations for auto_pad")
            }
            var begin = [0, 0], end = [0, 0]
            for i in 0..<2 {
                let size = s[2 + i]
                let out = (size + stride[i] - 1) / stride[i]
                let total = max((out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - size, 0)
                let small = total / 2
                if mode == "SAME_UPPER" { begin[i] = small; end[i] = total - small } else { begin[i] = total - small; end[i] = small }
            }
            return [begin[0], begin[1], end[0], end[1]]
        default:
            throw a.fail("unknown auto_pad '\(mode)'")
        }
    }
}
