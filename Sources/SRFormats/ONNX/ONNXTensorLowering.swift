import SRCore

/// The N-D part of the op table: element-wise functions, transpose, reductions, slices and
/// splits, layer norm. Axes from the file are normalised here (negative → counted from the
/// end, slice bounds clamped as ONNX specifies); the batch axis may never be moved, reduced
/// or cut.
extension ONNXGraphBuilder {
    /// The canonical element-wise function of an ONNX op, or nil when `op` is not one.
    func unaryFunction(_ op: String, _ a: ONNXAttributes) throws -> UnaryFunction? {
        switch op {
        case "Erf": return .erf
        case "Exp": return .exp
        case "Log": return .log
        case "Sqrt": return .sqrt
        case "Neg": return .neg
        case "Abs": return .abs
        case "Reciprocal": return .reciprocal
        case "HardSwish": return .hardSwish
        case "HardSigmoid": return .hardSigmoid(alpha: try a.float("alpha", 0.2), beta: try a.float("beta", 0.5))
        case "Elu": return .elu(alpha: try a.float("alpha", 1))
        case "Selu":
            return .selu(alpha: try a.float("alpha", 1.67326319217681884765625), gamma: try a.float("gamma", 1.05070102214813232421875))
        case "Softplus": return .softplus
        case "Softsign": return .softsign
        case "Mish": return .mish
        case "Gelu":
            switch try a.string("approximate") ?? "none" {
            case "none": return .gelu
            case "tanh": return .geluTanh
            case let other: throw a.fail("unknown approximate '\(other)'")
            }
        default: return nil
        }
    }

    /// A tensor name no node of the file uses, for a tensor between two canonical nodes.
    func freshTensor(_ base: String) -> String {
        var k = 1
        while shapes["\(base)#\(k)"] != nil || isConsumed("\(base)#\(k)") || freshNames.contains("\(base)#\(k)") { k += 1 }
        freshNames.insert("\(base)#\(k)")
        return "\(base)#\(k)"
    }

    /// Transpose: a reshape when the permutation only moves axes of size 1, else `transpose`.
    func lowerTranspose(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                        shape s: [Int], output out: String) throws {
        let perm = try (a.ints("perm") ?? Array((0..<s.count).reversed())).map { $0 < 0 ? $0 + s.count : $0 }
        guard perm.sorted() == Array(0..<s.count) else { throw a.fail("bad perm \(perm) for input \(s)") }
        let moved = perm.filter { s[$0] != 1 }
        if moved == moved.sorted() {
            let target = perm.map { s[$0] }
            guard target.first == s.first else {
                throw SRError.unsupported("node '\(name)' (Transpose): perm \(perm) moves the batch axis")
            }
            if target == s { alias(out, to: x) } else {
                try emit(Node(name: name, op: .reshape(shape: Array(target.dropFirst())), inputs: [x], outputs: [out]))
            }
            return
        }
        guard perm.first == 0 else {
            deferBatchMove(x, perm: perm, output: out)  // its readers take single slices
            return
        }
        try emit(Node(name: name, op: .transpose(perm: perm), inputs: [x], outputs: [out]))
    }

    /// ReduceMean / ReduceSum / ReduceMax / ReduceMin. The spatial mean of NCHW data with
    /// kept dims is `globalAvgPool` (so CAM and the average-pooling LRP rules see it); without
    /// kept dims, `globalAvgPool` then a reshape.
    func lowerReduce(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                     shape s: [Int], output out: String) throws {
        let op = proto.opType
        let kind: ReduceKind
        switch op {
        case "ReduceMean": kind = .mean
        case "ReduceSum": kind = .sum
        case "ReduceMax": kind = .max
        case "ReduceL2": kind = .sum  // √(Σ x²): the sum of squares, then its root
        default: kind = .min
        }
        // Axes: an attribute before opset 18 (ReduceSum: before 13), an input after.
        var axes: [Int]
        if let list = try a.ints("axes") {
            axes = list
        } else if proto.input.count > 1, !proto.input[1].isEmpty {
            guard let c = constant(proto.input[1]) else {
                throw SRError.unsupported("node '\(name)' (\(op)): the axes must be constant")
            }
            axes = try c.intValues("node '\(name)' axes")
        } else {
            axes = []
        }
        if axes.isEmpty {
            if try a.int("noop_with_empty_axes", 0) != 0 { alias(out, to: x); return }
            axes = Array(0..<s.count)
        }
        axes = axes.map { $0 < 0 ? $0 + s.count : $0 }
        guard axes.allSatisfy({ $0 >= 0 && $0 < s.count }), Set(axes).count == axes.count else {
            throw a.fail("axes \(axes) out of range for \(s)")
        }
        axes.sort()
        guard !axes.contains(0) else {
            throw SRError.unsupported("node '\(name)' (\(op)): reducing over the batch axis is not supported")
        }
        let keep = try a.int("keepdims", 1) != 0
        if kind == .mean, s.count == 4, axes == [2, 3] {
            if keep {
                try emit(Node(name: name, op: .globalAvgPool, inputs: [x], outputs: [out]))
            } else {
                let pooled = freshTensor(out)
                try emit(Node(name: name, op: .globalAvgPool, inputs: [x], outputs: [pooled]))
                try emit(Node(name: name, op: .reshape(shape: [s[1]]), inputs: [pooled], outputs: [out]))
            }
            return
        }
        let reduce = Op.reduce(ReduceAttributes(kind: kind, axes: axes, keepDims: keep))
        if op == "ReduceL2" {
            let squares = freshTensor(out), sum = freshTensor(out)
            try emit(Node(name: name, op: .power(exponent: 2), inputs: [x], outputs: [squares]))
            try emit(Node(name: name, op: reduce, inputs: [squares], outputs: [sum]))
            try emit(Node(name: name, op: .unary(.sqrt), inputs: [sum], outputs: [out]))
            return
        }
        try emit(Node(name: name, op: reduce, inputs: [x], outputs: [out]))
    }

    /// Slice with constant starts / ends / axes / steps (inputs since opset 10, attributes
    /// before): one `slice` node per axis that is actually cut.
    func lowerSlice(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                    shape s: [Int], output out: String) throws {
        func list(_ i: Int, _ attribute: String) throws -> [Int]? {
            if opset < 10 { return try a.ints(attribute) }
            guard i < proto.input.count, !proto.input[i].isEmpty else { return nil }
            guard let c = constant(proto.input[i]) else {
                throw SRError.unsupported("node '\(name)' (Slice): \(attribute) must be constant")
            }
            return try c.intValues("node '\(name)' \(attribute)")
        }
        guard let starts = try list(1, "starts"), let ends = try list(2, "ends"), starts.count == ends.count else {
            throw a.fail("needs starts and ends of equal length")
        }
        let axes = try list(3, "axes") ?? Array(0..<starts.count)
        let steps = try list(4, "steps") ?? [Int](repeating: 1, count: starts.count)
        guard axes.count == starts.count, steps.count == starts.count else { throw a.fail("starts, ends, axes and steps differ in length") }
        var cuts: [(axis: Int, start: Int, end: Int, step: Int)] = []
        for k in starts.indices {
            let axis = axes[k] < 0 ? axes[k] + s.count : axes[k]
            guard axis >= 0, axis < s.count else { throw a.fail("axis \(axes[k]) out of range for \(s)") }
            guard steps[k] >= 1 else {
                throw SRError.unsupported("node '\(name)' (Slice): step \(steps[k]) (only positive steps are supported)")
            }
            let dim = s[axis]
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + dim : v, 0), dim) }
            let start = clamp(starts[k]), end = clamp(ends[k])
            guard start < end else { throw SRError.unsupported("node '\(name)' (Slice): the slice of axis \(axis) of \(s) is empty") }
            if start == 0 && end == dim && steps[k] == 1 { continue }
            guard axis != 0 else { throw SRError.unsupported("node '\(name)' (Slice): cutting the batch axis is not supported") }
            cuts.append((axis, start, end, steps[k]))
        }
        var current = x
        for (i, c) in cuts.enumerated() {
            let target = i == cuts.count - 1 ? out : freshTensor(out)
            try emit(Node(name: name, op: .slice(axis: c.axis, start: c.start, end: c.end, step: c.step), inputs: [current], outputs: [target]))
            current = target
        }
        if cuts.isEmpty { alias(out, to: x) }
    }

    /// Split into consecutive parts of one axis: one `slice` node per output that is read.
    func lowerSplit(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                    shape s: [Int]) throws {
        var axis = try a.int("axis", 0)
        if axis < 0 { axis += s.count }
        guard axis >= 1, axis < s.count else {
            throw SRError.unsupported("node '\(name)' (Split): axis \(axis) of \(s) (only non-batch axes are supported)")
        }
        let outputs = proto.output
        var sizes: [Int]
        if let list = try a.ints("split") {
            sizes = list
        } else if proto.input.count > 1, !proto.input[1].isEmpty {
            guard let c = constant(proto.input[1]) else { throw SRError.unsupported("node '\(name)' (Split): the sizes must be constant") }
            sizes = try c.intValues("node '\(name)' split")
        } else {
            // Equal parts; the last smaller when the axis does not divide (opset 18).
            let parts = try a.int("num_outputs", outputs.count)
            guard parts >= 1, parts <= s[axis] else { throw a.fail("num_outputs \(parts) for axis \(axis) of \(s)") }
            let size = (s[axis] + parts - 1) / parts
            sizes = (0..<parts).map { min(size, max(s[axis] - $0 * size, 0)) }
        }
        // Each size within the axis before they are added (values from the file).
        guard sizes.count == outputs.count, sizes.allSatisfy({ $0 >= 0 && $0 <= s[axis] }), sizes.reduce(0, +) == s[axis] else {
            throw a.fail("split sizes \(sizes) do not divide axis \(axis) of \(s) into \(outputs.count) outputs")
        }
        var start = 0
        for (o, size) in zip(outputs, sizes) {
            defer { start += size }
            guard !o.isEmpty, isConsumed(o) || isGraphOutput(o) else { continue }
            guard size > 0 else { throw SRError.unsupported("node '\(name)' (Split): output '\(o)' is empty") }
            try emit(Node(name: name, op: .slice(axis: axis, start: start, end: start + size, step: 1), inputs: [x], outputs: [o]))
        }
    }

    /// Concat along a non-batch axis; constant parts (a class token) become batch constants.
    /// `x` is a computed part.
    func lowerConcat(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, like x: String) throws {
        guard let s = shape(x), let out = proto.output.first else { return }
        var axis = try a.int("axis", 1)
        if axis < 0 { axis += s.count }
        guard axis >= 1, axis < s.count else {
            throw SRError.unsupported("node '\(name)' (Concat): axis \(axis) (only non-batch axes are supported)")
        }
        let parts = try proto.input.filter { !$0.isEmpty }.map { part -> String in
            if shape(part) != nil { return resolve(part) }
            guard let c = constant(part) else { throw a.fail("input '\(part)' is neither computed nor constant") }
            return try batchConstant(c, rank: s.count, like: x, name: name)
        }
        try emit(Node(name: name, op: .concat(axis: axis), inputs: parts, outputs: [out]))
    }

    /// The first normalised axis of LayerNormalization / RMSNormalization (a non-batch axis);
    /// their optional statistics outputs (mean, inverse deviation) must be unread.
    func normalizationAxis(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, shape s: [Int]) throws -> Int {
        var axis = try a.int("axis", -1)
        if axis < 0 { axis += s.count }
        guard axis >= 1, axis < s.count else {
            throw SRError.unsupported("node '\(name)' (\(proto.opType)): axis \(axis) of \(s) (only non-batch axes are supported)")
        }
        for o in proto.output.dropFirst() where !o.isEmpty && isConsumed(o) {
            throw SRError.unsupported("node '\(name)' (\(proto.opType)): output '\(o)' (a statistic of the normalisation) is not supported")
        }
        return axis
    }

    /// LayerNormalization (opset 17): scale and bias constant, over the axes from `axis`.
    func lowerLayerNorm(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                        shape s: [Int], output out: String) throws {
        let axis = try normalizationAxis(proto, name: name, attributes: a, shape: s)
        let normalized = Array(s[axis...])
        var params: [String: String] = [:]
        for (i, role) in [(1, "scale"), (2, "bias")] where i < proto.input.count && !proto.input[i].isEmpty {
            guard let c = constant(proto.input[i]) else {
                throw SRError.unsupported("node '\(name)' (LayerNormalization): \(role) must be a constant (initializer)")
            }
            let t = try c.floatTensor("node '\(name)' \(role)")
            // Scale and bias broadcast over the normalised axes; srtool stores them full-size.
            guard let full = Shape.broadcast([t.shape, normalized]), full == normalized else {
                throw SRError.unsupported("node '\(name)' (LayerNormalization): \(role) of shape \(t.shape) does not broadcast to \(normalized)")
            }
            let expanded = t.count == (Shape.elementCount(normalized) ?? -1) ? t : broadcastTensor(t, to: normalized)
            params[role] = addWeight(try expanded.reshaped(normalized), name: proto.input[i])
        }
        try emit(Node(name: name, op: .layerNorm(axis: axis, epsilon: try a.float("epsilon", 1e-5)), inputs: [x], outputs: [out], params: params))
    }
}

extension ONNXGraphBuilder {
    /// Constant Pad of at most two non-batch axes, non-negative. NCHW data padded in H and W
    /// is one `pad`; any other layout (Swin V2's `[N, H, W, C]` windows) is moved so the two
    /// padded axes come last, flattened to `[N, rest, A, B]`, padded, and moved back.
    func lowerPad(name: String, input x: String, shape s: [Int], pads: [Int], value: Float, output out: String) throws {
        let rank = s.count
        let padded = (0..<rank).filter { pads[$0] != 0 || pads[$0 + rank] != 0 }
        guard pads.allSatisfy({ $0 >= 0 }), !padded.contains(0), padded.count <= 2, rank >= 3 else {
            throw SRError.unsupported("node '\(name)' (Pad): only non-negative padding of at most two non-batch axes is supported, pads \(pads) for \(s)")
        }
        let axes = padded.count == 2 ? padded : padded[0] == rank - 1 ? [rank - 2, rank - 1] : [padded[0], rank - 1]
        let spatial = [pads[axes[0]], pads[axes[1]], pads[axes[0] + rank], pads[axes[1] + rank]]
        if rank == 4 && axes == [2, 3] {
            try emit(Node(name: name, op: .pad(pads: spatial, value: value), inputs: [x], outputs: [out]))
            return
        }
        let rest = (1..<rank).filter { !axes.contains($0) }
        let perm = [0] + rest + axes
        let moved = freshTensor(out), flat = freshTensor(out), grown = freshTensor(out), back = freshTensor(out)
        try emit(Node(name: name, op: .transpose(perm: perm), inputs: [x], outputs: [moved]))
        let lead = rest.map { s[$0] }
        try emit(Node(name: name, op: .reshape(shape: [lead.reduce(1, *), s[axes[0]], s[axes[1]]]), inputs: [moved], outputs: [flat]))
        try emit(Node(name: name, op: .pad(pads: spatial, value: value), inputs: [flat], outputs: [grown]))
        let a = s[axes[0]] + spatial[0] + spatial[2], b = s[axes[1]] + spatial[1] + spatial[3]
        try emit(Node(name: name, op: .reshape(shape: lead + [a, b]), inputs: [grown], outputs: [back]))
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        try emit(Node(name: name, op: .transpose(perm: inverse), inputs: [back], outputs: [out]))
    }

    /// RMSNormalization (opset 23): `x / √(mean(x², axes from axis) + ε) · scale`, as the
    /// canonical ops it is made of (`power`, `reduce`, `scale`, `sqrt`, `reciprocal`, `mul`),
    /// the scale a vector along the last axis or a batch constant.
    func lowerRMSNorm(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                      shape s: [Int], output out: String) throws {
        let axis = try normalizationAxis(proto, name: name, attributes: a, shape: s)
        guard proto.input.count > 1, let c = constant(proto.input[1]) else {
            throw SRError.unsupported("node '\(name)' (RMSNormalization): the scale must be a constant (initializer)")
        }
        let epsilon = try a.float("epsilon", 1e-5)
        let squares = freshTensor(out), mean = freshTensor(out), shifted = freshTensor(out), root = freshTensor(out)
        let inverse = freshTensor(out), normalized = freshTensor(out)
        try emit(Node(name: name, op: .power(exponent: 2), inputs: [x], outputs: [squares]))
        try emit(Node(name: name, op: .reduce(ReduceAttributes(kind: .mean, axes: Array(axis..<s.count), keepDims: true)),
                      inputs: [squares], outputs: [mean]))
        let one = addWeight(try Tensor(shape: [1], values: [1]), name: "\(name).one")
        let eps = addWeight(try Tensor(shape: [1], values: [epsilon]), name: "\(name).epsilon")
        try emit(Node(name: name, op: .scale(axis: 1), inputs: [mean], outputs: [shifted], params: ["weight": one, "bias": eps]))
        try emit(Node(name: name, op: .unary(.sqrt), inputs: [shifted], outputs: [root]))
        try emit(Node(name: name, op: .unary(.reciprocal), inputs: [root], outputs: [inverse]))
        try emit(Node(name: name, op: .mul, inputs: [x, inverse], outputs: [normalized]))
        let values = c.floatValues()
        if let (v, along) = axisVector(shape: c.shape, values: values, activation: s) {
            let w = addWeight(try Tensor(shape: [v.count], values: v), name: "\(name).scale")
            try emit(Node(name: name, op: .scale(axis: along), inputs: [normalized], outputs: [out], params: ["weight": w]))
        } else {
            guard let full = Shape.broadcast([c.shape, s]), full == s else {
                throw SRError.unsupported("node '\(name)' (RMSNormalization): scale of shape \(c.shape) does not broadcast to \(s)")
            }
            let k = try batchConstant(c, rank: s.count, like: normalized, name: name)
            try emit(Node(name: name, op: .mul, inputs: [normalized, k], outputs: [out]))
        }
    }
}

/// `t` repeated numpy-style (right-aligned) to `shape`, which it must broadcast to.
func broadcastTensor(_ t: Tensor, to shape: [Int]) -> Tensor {
    let out = Tensor(zeros: shape)
    let padded = [Int](repeating: 1, count: shape.count - t.shape.count) + t.shape
    for i in 0..<out.count {
        var r = i, src = 0, stride = 1
        for d in shape.indices.reversed() {
            let k = r % shape[d]
            r /= shape[d]
            if padded[d] != 1 { src += k * stride }
            stride *= padded[d]
        }
        out.pointer[i] = t.pointer[src]
    }
    return out
}

extension ONNXGraphBuilder {
    /// Resize (opset 10+: scales or sizes as inputs) and Upsample (scales as attribute or
    /// input) of the spatial axes of NCHW data; nearest or (bi)linear. Before opset 11 the
    /// coordinates are asymmetric and nearest takes the floor.
    func lowerResize(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                     shape s: [Int], output out: String) throws {
        let op = proto.opType
        func refuse(_ why: String) -> SRError { .unsupported("node '\(name)' (\(op)): \(why)") }
        guard s.count == 4 else { throw refuse("only NCHW data is supported, input \(s)") }
        let modeName = try a.string("mode") ?? "nearest"
        guard let mode = ResizeAttributes.Mode(rawValue: modeName == "bilinear" ? "linear" : modeName) else {
            throw refuse("mode '\(modeName)' is not supported (nearest, linear)")
        }
        let newStyle = op == "Resize" && opset >= 11
        let coordinateName = newStyle ? try a.string("coordinate_transformation_mode") ?? "half_pixel" : "asymmetric"
        guard let coordinates = ResizeAttributes.Coordinates(rawValue: coordinateName) else {
            throw refuse("coordinate_transformation_mode '\(coordinateName)' is not supported")
        }
        let roundingName = newStyle ? try a.string("nearest_mode") ?? "round_prefer_floor" : "floor"
        guard let rounding = ResizeAttributes.Rounding(rawValue: roundingName) else { throw refuse("nearest_mode '\(roundingName)'") }
        if try a.int("antialias", 0) != 0 { throw refuse("antialias is not supported") }
        if let axes = try a.ints("axes"), axes.map({ $0 < 0 ? $0 + 4 : $0 }) != [2, 3] { throw refuse("axes \(axes)") }
        if let policy = try a.string("keep_aspect_ratio_policy"), policy != "stretch" { throw refuse("keep_aspect_ratio_policy '\(policy)'") }
        func input(_ i: Int) -> ONNXConstant? {
            guard i < proto.input.count, !proto.input[i].isEmpty else { return nil }
            return constant(proto.input[i])
        }
        // Where the scales and sizes are: Upsample-7 attribute, Upsample-9 / Resize-10 input 1,
        // Resize-11+ inputs 2 and 3.
        var scales: [Float]? = try a.floats("scales")
        var sizes: [Int]?
        if op == "Upsample" || opset < 11 {
            if scales == nil { scales = input(1)?.floatValues() }
        } else {
            if let c = input(2), !c.shape.contains(0) { scales = c.floatValues() }
            if let c = input(3) { sizes = try c.intValues("node '\(name)' sizes") }
        }
        var size: [Int], used: [Float]
        if let sizes {
            guard sizes.count == 4, sizes[0] == s[0], sizes[1] == s[1] else { throw refuse("sizes \(sizes) must keep N and C of \(s)") }
            size = Array(sizes.suffix(2))
            used = (0..<2).map { Float(size[$0]) / Float(s[2 + $0]) }
        } else if let scales {
            guard scales.count == 4, scales[0] == 1, scales[1] == 1, scales.allSatisfy({ $0 > 0 && $0.isFinite && $0 < 1e6 }) else {
                throw refuse("scales \(scales) must be 1 for N and C and positive")
            }
            used = Array(scales.suffix(2))
            size = (0..<2).map { Int((Float(s[2 + $0]) * used[$0]).rounded(.down)) }
        } else {
            throw refuse("needs constant scales or sizes")
        }
        guard size.allSatisfy({ $0 >= 1 }) else { throw refuse("output size \(size)") }
        try emit(Node(name: name, op: .resize(ResizeAttributes(mode: mode, coordinates: coordinates, rounding: rounding,
                                                                size: size, scales: used)), inputs: [x], outputs: [out]))
    }
}
