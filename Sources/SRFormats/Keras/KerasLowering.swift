import Foundation
import SRCore

/// The layer table: each Keras layer call → canonical NCHW nodes. Kernels are permuted
/// from channels-last (`[kh, kw, in, out]`, Dense `[in, out]`) to OIHW / `[out, in]`;
/// "same" padding is Keras' (total = max((⌈n/s⌉−1)·s + (k−1)·d + 1 − n, 0), the odd pixel
/// at the bottom/right); average pooling with "same" padding divides by the real pixels.
extension KerasGraphBuilder {
    /// `numbers`: the call's numeric argument of a keras.ops node or TFOpLambda (`x + 3`;
    /// `numberFirst`: `3 - x`); `sliceSpec`: a SlicingOpLambda's.
    func lower(_ layer: KerasConfig.Layer, inputs: [String], out: String, numbers: [Float] = [], numberFirst: Bool = false,
               sliceSpec: [Any]? = nil) throws {
        let c = layer.config, name = layer.name
        func fail(_ why: String) -> SRError { .unsupported("layer '\(name)' (\(layer.className)): \(why)") }
        func bad(_ why: String) -> SRError { .malformed("layer '\(name)' (\(layer.className)): \(why)") }
        guard !inputs.isEmpty else { throw bad("is called without inputs") }
        let x = inputs[0]
        guard let xs = assembler.shape(x) else { throw bad("input '\(x)' has no shape") }
        if let format = c["data_format"] as? String, format != "channels_last" {
            throw fail("data_format '\(format)' is not supported (only channels_last)")
        }
        if layer.className == "TFOpLambda" {
            // Keras 2's record of a tf.* call in the graph (`x + 3`, `tf.nn.silu(x)`): the
            // layer it equals, its operand from the call's `y`.
            let function = c["function"] as? String ?? "?"
            guard let (cls, activation) = Self.tfOps[function] else {
                throw SRError.unsupported("layer '\(name)' has class 'TFOpLambda' (tf.\(function)), which srtool does not support")
            }
            var equivalent = layer
            equivalent.className = cls
            if let activation { equivalent.config["activation"] = activation }
            return try lower(equivalent, inputs: inputs, out: out, numbers: numbers, numberFirst: numberFirst)
        }
        if layer.className == "SlicingOpLambda" {
            guard c["function"] as? String == "__operators__.getitem", let spec = sliceSpec else {
                throw SRError.unsupported("layer '\(name)' has class 'SlicingOpLambda' (tf.\(c["function"] as? String ?? "?")), which srtool does not support")
            }
            return try lowerSlicing(name: name, input: x, shape: xs, spec: spec, out: out)
        }
        guard Self.layerClasses.contains(layer.className) else {
            throw SRError.unsupported("layer '\(name)' has class '\(layer.className)', which srtool does not support")
        }
        if inputs.count > 1 && !Self.mergeClasses.contains(layer.className) {
            throw bad("is called on \(inputs.count) inputs; a \(layer.className) layer takes one")
        }
        /// Sizes, strides and rates: each must be positive (and below 2^31, so no product overflows).
        func ints(_ key: String, _ n: Int = 2, default d: [Int]? = nil) throws -> [Int] {
            var values: [Int]
            if let v = c[key] as? Int { values = [Int](repeating: v, count: n) }
            else if let v = c[key] as? [Int], v.count == n { values = v }
            else if c[key] == nil || c[key] is NSNull, let d { values = d }
            else { throw bad("cannot read '\(key)'") }
            guard values.allSatisfy({ $0 >= 1 && $0 < 1 << 31 }) else { throw bad("'\(key)' is \(values)") }
            return values
        }
        /// A count the weights must agree with (`filters`, `units`, `depth_multiplier`,
        /// `groups`): positive when present; `d` when absent or null.
        func positive(_ key: String, default d: Int? = nil) throws -> Int? {
            if c[key] == nil || c[key] is NSNull { return d }
            guard let v = c[key] as? Int, v >= 1, v < 1 << 31 else { throw bad("'\(key)' is \(c[key].map { "\($0)" } ?? "")") }
            return v
        }
        /// A number from the config; nil when it is absent or null.
        func number(_ key: String) throws -> Float? {
            if let v = c[key] as? NSNumber { return v.floatValue }
            if c[key] == nil || c[key] is NSNull { return nil }
            throw bad("cannot read '\(key)'")
        }
        func flag(_ key: String, default d: Bool) -> Bool { (c[key] as? Bool) ?? d }
        func need4D() throws { guard xs.count == 4 else { throw fail("input \(xs) is not an image batch") } }
        func checkNotFlattened() throws {
            if flattenedFrom[x] != nil { throw fail("reads a channels-last Flatten, whose value order srtool's NCHW graph does not keep") }
        }

        /// Emits `steps` as a chain from `ins`: the first node carries the layer's name, the
        /// last one writes `out`.
        func chain(_ steps: [(Op, [String: String])], _ ins: [String] = inputs) throws {
            var current = ins
            for (i, (op, params)) in steps.enumerated() {
                let last = i == steps.count - 1
                let output = last ? out : assembler.unique("\(out)/\(op.name)")
                try assembler.emit(Node(name: i == 0 ? out : "\(out)/\(op.name)", op: op, inputs: current, outputs: [output], params: params))
                current = [output]
            }
            if steps.isEmpty { try assembler.emit(Node(name: out, op: .identity, inputs: ins, outputs: [out])) }
        }
        func activationSteps() throws -> [(Op, [String: String])] {
            guard let a = c["activation"] else { return [] }
            guard let s = a as? String else { throw fail("a custom activation is not supported") }
            return try Self.activation(s, layer: name, keras2: config.keras2).map { [($0, [:])] } ?? []
        }
        func samePads(_ kernel: [Int], _ stride: [Int], _ dilation: [Int]) throws -> [Int] {
            let padding = c["padding"] as? String ?? "valid"
            switch padding {
            case "valid": return [0, 0, 0, 0]
            case "same":
                var p = [0, 0, 0, 0]
                for axis in 0..<2 {
                    let n = xs[2 + axis], s = stride[axis]
                    let outN = (n + s - 1) / s
                    let total = max((outN - 1) * s + (kernel[axis] - 1) * dilation[axis] + 1 - n, 0)
                    p[axis] = total / 2
                    p[axis + 2] = total - total / 2
                }
                return p
            default: throw fail("padding '\(padding)' is not supported")
            }
        }

        if ["Add", "Multiply", "Subtract", "Divide", "TrueDivide"].contains(layer.className), inputs.count == 1, numbers.count == 1 {
            // A keras.ops node with a number (MobileNetV3's `relu6(x + 3) * (1/6)`): an affine
            // map, after a reciprocal for `3 / x`.
            let v = numbers[0]
            let (w, b): (Float, Float) = switch (layer.className, numberFirst) {
            case ("Add", _): (1, v)
            case ("Subtract", false): (1, -v)
            case ("Subtract", true): (-1, v)
            case ("Multiply", _): (v, 0)
            case (_, false): (1 / v, 0)
            case (_, true): (v, 0)
            }
            let affine: (Op, [String: String]) = (.scale(axis: 1), [
                "weight": try weight(name, "weight") { try Tensor(shape: [1], values: [w]) },
                "bias": try weight(name, "bias") { try Tensor(shape: [1], values: [b]) },
            ])
            let divides = numberFirst && !["Add", "Subtract", "Multiply"].contains(layer.className)
            try chain(divides ? [(.unary(.reciprocal), [:]), affine] : [affine])
            flattenedFrom[out] = flattenedFrom[x]
            return
        }

        switch layer.className {
        case "Conv2D", "DepthwiseConv2D", "SeparableConv2D":
            try need4D()
            try checkNotFlattened()
            let kernel = try ints("kernel_size"), stride = try ints("strides", default: [1, 1])
            let dilation = try ints("dilation_rate", default: [1, 1])
            let pads = try samePads(kernel, stride, dilation)
            let useBias = flag("use_bias", default: true)
            let inC = xs[1]
            var steps: [(Op, [String: String])] = []
            if layer.className == "Conv2D" {
                let groups = try positive("groups", default: 1) ?? 1
                let w = try weightTensors(layer, count: useBias ? 2...2 : 1...1)
                let k = w[0]
                guard k.rank == 4, k.shape[0] == kernel[0], k.shape[1] == kernel[1], groups >= 1, inC % groups == 0,
                      k.shape[2] == inC / groups else {
                    throw bad("kernel of shape \(k.shape) does not fit kernel_size \(kernel) and \(inC) input channels")
                }
                let outC = k.shape[3]
                if let filters = try positive("filters"), filters != outC {
                    throw bad("'filters' is \(filters) but the kernel has \(outC) output channels")
                }
                var params = ["weight": weight(name, "weight") { Self.hwioToOIHW(k) }]
                if useBias { params["bias"] = try weight(name, "bias") { try Self.vector(w[1], outC, "bias", layer: name) } }
                steps.append((.conv2d(Conv2DAttributes(kernel: kernel, stride: stride, pads: pads, dilation: dilation, group: groups)), params))
            } else {
                let mult = try positive("depth_multiplier", default: 1) ?? 1
                let separable = layer.className == "SeparableConv2D"
                let w = try weightTensors(layer, count: separable ? (useBias ? 3...3 : 2...2) : (useBias ? 2...2 : 1...1))
                let dk = w[0]
                guard dk.shape == [kernel[0], kernel[1], inC, mult] else {
                    throw bad("depthwise kernel of shape \(dk.shape), expected \([kernel[0], kernel[1], inC, mult])")
                }
                var dparams = ["weight": weight(name, "depthwise") { Self.depthwiseToOIHW(dk) }]
                let dw = Op.conv2d(Conv2DAttributes(kernel: kernel, stride: stride, pads: pads, dilation: dilation, group: inC))
                if separable {
                    let pk = w[1]
                    guard pk.rank == 4, pk.shape[0] == 1, pk.shape[1] == 1, pk.shape[2] == inC * mult else {
                        throw bad("pointwise kernel of shape \(pk.shape) does not fit \(inC * mult) channels")
                    }
                    if let filters = try positive("filters"), filters != pk.shape[3] {
                        throw bad("'filters' is \(filters) but the pointwise kernel has \(pk.shape[3]) output channels")
                    }
                    var pparams = ["weight": weight(name, "pointwise") { Self.hwioToOIHW(pk) }]
                    if useBias { pparams["bias"] = try weight(name, "bias") { try Self.vector(w[2], pk.shape[3], "bias", layer: name) } }
                    steps.append((dw, dparams))
                    steps.append((.conv2d(Conv2DAttributes(kernel: [1, 1])), pparams))
                } else {
                    if useBias { dparams["bias"] = try weight(name, "bias") { try Self.vector(w[1], inC * mult, "bias", layer: name) } }
                    steps.append((dw, dparams))
                }
            }
            try chain(steps + activationSteps())

        case "Dense":
            let useBias = flag("use_bias", default: true)
            let w = try weightTensors(layer, count: useBias ? 2...2 : 1...1)
            let k = w[0]
            // Keras' last axis is the channel axis of NCHW images: Dense there is a 1×1 conv.
            let features = xs.count == 4 ? xs[1] : (xs.last ?? 0)
            guard k.rank == 2, k.shape[0] == features else { throw bad("kernel of shape \(k.shape) does not fit \(features) inputs") }
            if xs.count != 2 {
                try checkNotFlattened()
                let units = k.shape[1]
                if let declared = try positive("units"), declared != units {
                    throw bad("'units' is \(declared) but the kernel has \(units) columns")
                }
                let dense = Self.denseToOutIn(k, flattenedCHW: nil)
                var params = ["weight": try weight(name, "weight") { xs.count == 4 ? try dense.reshaped([units, features, 1, 1]) : dense }]
                if useBias { params["bias"] = try weight(name, "bias") { try Self.vector(w[1], units, "bias", layer: name) } }
                try chain([(xs.count == 4 ? .conv2d(Conv2DAttributes(kernel: [1, 1])) : .linear, params)] + activationSteps())
                return
            }
            let units = k.shape[1]
            if let declared = try positive("units"), declared != units {
                throw bad("'units' is \(declared) but the kernel has \(units) columns")
            }
            // Keras flattened H, W, C; the NCHW graph flattens C, H, W: permute the rows.
            let chw = flattenedFrom[x]
            var params = ["weight": weight(name, "weight") { Self.denseToOutIn(k, flattenedCHW: chw) }]
            if useBias { params["bias"] = try weight(name, "bias") { try Self.vector(w[1], units, "bias", layer: name) } }
            try chain([(.linear, params)] + activationSteps())

        case "BatchNormalization":
            try checkNotFlattened()
            let axes = c["axis"] as? [Int]
            let axis = (c["axis"] as? Int) ?? (axes?.count == 1 ? axes?.first : nil)
            guard let axis, axis == -1 || axis == xs.count - 1 else { throw fail("axis \(String(describing: c["axis"])) is not the channel axis") }
            let center = flag("center", default: true), scale = flag("scale", default: true)
            let n = 2 + (center ? 1 : 0) + (scale ? 1 : 0)
            let w = try weightTensors(layer, count: n...n)
            let ch = xs[1]
            var i = 0
            var params: [String: String] = [:]
            if scale { let t = w[i]; params["scale"] = try weight(name, "gamma") { try Self.vector(t, ch, "gamma", layer: name) }; i += 1 }
            if center { let t = w[i]; params["bias"] = try weight(name, "beta") { try Self.vector(t, ch, "beta", layer: name) }; i += 1 }
            let mean = w[i], variance = w[i + 1]
            params["mean"] = try weight(name, "moving_mean") { try Self.vector(mean, ch, "moving_mean", layer: name) }
            params["variance"] = try weight(name, "moving_variance") { try Self.vector(variance, ch, "moving_variance", layer: name) }
            try chain([(.batchNorm(epsilon: try number("epsilon") ?? 1e-3), params)])

        case "Activation":
            guard let a = c["activation"] as? String else { throw fail("a custom activation is not supported") }
            try chain(try Self.activation(a, layer: name, keras2: config.keras2).map { [($0, [:])] } ?? [])
            flattenedFrom[out] = flattenedFrom[x]

        case "ReLU":
            // Keras 3: x·[x > threshold] (or relu), clipped to [0, max_value], minus
            // negative_slope·relu(threshold − x).
            let maxValue = try number("max_value")
            let slope = try number("negative_slope") ?? 0, threshold = try number("threshold") ?? 0
            var steps: [(Op, [String: String])] = []
            if slope != 0 && maxValue == nil && threshold == 0 {
                steps.append((.relu(slope: slope), [:]))
                try chain(steps)
            } else {
                steps.append((threshold != 0 ? .thresholdedRelu(threshold: threshold) : .relu(slope: 0), [:]))
                if let m = maxValue { steps.append((.clip(min: 0, max: m), [:])) }
                if slope == 0 {
                    try chain(steps)
                } else {
                    let positive = assembler.unique("\(out)/positive")
                    var current = [x]
                    for (i, (op, p)) in steps.enumerated() {
                        let o = i == steps.count - 1 ? positive : assembler.unique("\(out)/\(op.name)")
                        try assembler.emit(Node(name: o, op: op, inputs: current, outputs: [o], params: p))
                        current = [o]
                    }
                    let flip = try weight(name, "flip") { try Tensor(shape: [1], values: [-1]) }
                    let shift = try weight(name, "threshold") { try Tensor(shape: [1], values: [threshold]) }
                    let negSlope = try weight(name, "negative_slope") { try Tensor(shape: [1], values: [-slope]) }
                    let a = assembler.unique("\(out)/below")
                    try assembler.emit(Node(name: a, op: .scale(axis: 1), inputs: [x], outputs: [a], params: ["weight": flip, "bias": shift]))
                    let b = assembler.unique("\(out)/below_relu")
                    try assembler.emit(Node(name: b, op: .relu(slope: 0), inputs: [a], outputs: [b]))
                    let d = assembler.unique("\(out)/negative")
                    try assembler.emit(Node(name: d, op: .scale(axis: 1), inputs: [b], outputs: [d], params: ["weight": negSlope]))
                    try assembler.emit(Node(name: out, op: .add, inputs: [positive, d], outputs: [out]))
                }
            }
            flattenedFrom[out] = flattenedFrom[x]

        case "LeakyReLU":
            // Keras 3 names it negative_slope, Keras 2 alpha; both default to 0.3.
            let slope = try number("negative_slope") ?? number("alpha") ?? 0.3
            try chain([(.relu(slope: slope), [:])])
            flattenedFrom[out] = flattenedFrom[x]

        case "PReLU":
            try checkNotFlattened()
            let w = try weightTensors(layer, count: 1...1)
            let a = w[0]
            // alpha has the input's per-sample shape (channels-last), the shared_axes of size 1.
            let perSample = xs.count == 4 ? [xs[2], xs[3], xs[1]] : Array(xs.dropFirst())
            guard a.rank == perSample.count, zip(a.shape, perSample).allSatisfy({ $0 == 1 || $0 == $1 }) else {
                throw bad("alpha of shape \(a.shape) does not fit the input \(xs)")
            }
            if a.shape.dropLast().allSatisfy({ $0 == 1 }) && (xs.count == 4 || xs.count == 2) {
                try chain([(.prelu, ["slope": try weight(name, "alpha") { try a.reshaped([a.count]) }])])
                return
            }
            // A slope per position: relu(x) − α·relu(−x), α a batch constant broadcast over
            // the shared axes.
            let alpha = try weight(name, "minus_alpha") {
                let t = xs.count == 4 ? try Self.hwcToCHW(a) : a
                return try Tensor(shape: [1] + t.shape, values: t.values.map { -$0 })
            }
            let minusOne = try weight(name, "minus_one") { try Tensor(shape: [1], values: [-1]) }
            let positive = assembler.unique("\(out)/positive"), flipped = assembler.unique("\(out)/flipped")
            let below = assembler.unique("\(out)/below"), slopes = assembler.unique("\(out)/slopes")
            let negative = assembler.unique("\(out)/negative")
            try assembler.emit(Node(name: positive, op: .relu(slope: 0), inputs: [x], outputs: [positive]))
            try assembler.emit(Node(name: flipped, op: .scale(axis: 1), inputs: [x], outputs: [flipped], params: ["weight": minusOne]))
            try assembler.emit(Node(name: below, op: .relu(slope: 0), inputs: [flipped], outputs: [below]))
            try assembler.emit(Node(name: slopes, op: .batchConstant, inputs: [x], outputs: [slopes], params: ["value": alpha]))
            try assembler.emit(Node(name: negative, op: .mul, inputs: [below, slopes], outputs: [negative]))
            try assembler.emit(Node(name: out, op: .add, inputs: [positive, negative], outputs: [out]))

        case "Conv2DTranspose":
            try need4D()
            try checkNotFlattened()
            let kernel = try ints("kernel_size"), stride = try ints("strides", default: [1, 1])
            let dilation = try ints("dilation_rate", default: [1, 1])
            let useBias = flag("use_bias", default: true)
            let w = try weightTensors(layer, count: useBias ? 2...2 : 1...1)
            let k = w[0]
            guard k.rank == 4, k.shape[0] == kernel[0], k.shape[1] == kernel[1], k.shape[3] == xs[1] else {
                throw bad("kernel of shape \(k.shape) does not fit kernel_size \(kernel) and \(xs[1]) input channels")
            }
            let outC = k.shape[2]
            if let filters = try positive("filters"), filters != outC {
                throw bad("'filters' is \(filters) but the kernel has \(outC) output channels")
            }
            var outputPadding: [Int]?
            if let v = c["output_padding"] as? Int { outputPadding = [v, v] }
            else if let v = c["output_padding"] as? [Int], v.count == 2 { outputPadding = v }
            else if !(c["output_padding"] == nil || c["output_padding"] is NSNull) { throw bad("cannot read 'output_padding'") }
            guard outputPadding?.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) ?? true else { throw bad("'output_padding' is \(outputPadding ?? [])") }
            let padding = c["padding"] as? String ?? "valid"
            guard padding == "valid" || padding == "same" else { throw fail("padding '\(padding)' is not supported") }
            guard (kernel + stride + dilation).allSatisfy({ $0 < 1 << 20 }), xs[2] < 1 << 20, xs[3] < 1 << 20 else {
                throw bad("kernel_size \(kernel), strides \(stride) or dilation_rate \(dilation) too large for \(xs)")
            }
            var pads = [0, 0, 0, 0], extra = [0, 0]
            for axis in 0..<2 {
                let n = xs[2 + axis], s = stride[axis], reach = (kernel[axis] - 1) * dilation[axis] + 1
                let length = if let op = outputPadding?[axis] {
                    (n - 1) * s + reach - 2 * (padding == "same" ? reach / 2 : 0) + op
                } else {
                    padding == "same" ? n * s : n * s + max(reach - s, 0)
                }
                let full = (n - 1) * s + reach
                let top = padding == "same" ? max(full - length, 0) / 2 : 0
                let rest = length - full + top
                (pads[axis], pads[axis + 2], extra[axis]) = rest >= 0 ? (top, 0, rest) : (top, -rest, 0)
            }
            var params = ["weight": weight(name, "weight") { Self.hwioToOIHW(k) }]
            if useBias { params["bias"] = try weight(name, "bias") { try Self.vector(w[1], outC, "bias", layer: name) } }
            let conv = Conv2DAttributes(kernel: kernel, stride: stride, pads: pads, dilation: dilation)
            try chain([(.convTranspose2d(ConvTranspose2DAttributes(conv: conv, outputPadding: extra)), params)] + activationSteps())

        case "MaxPooling2D", "AveragePooling2D":
            try need4D()
            let pool = try ints("pool_size", default: [2, 2])
            let stride = try ints("strides", default: pool)
            let pads = try samePads(pool, stride, [1, 1])
            let a = Pool2DAttributes(kernel: pool, stride: stride, pads: pads, ceilMode: false, countIncludePad: false)
            try chain([(layer.className == "MaxPooling2D" ? .maxPool2d(a) : .avgPool2d(a), [:])])

        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            try need4D()
            let op: Op = layer.className == "GlobalAveragePooling2D" ? .globalAvgPool : .globalMaxPool
            try chain(flag("keepdims", default: false) ? [(op, [:])] : [(op, [:]), (.flatten, [:])])

        case "Flatten":
            if xs.count == 4 {
                try chain([(.flatten, [:])])
                if xs[2] * xs[3] > 1 && xs[1] > 1 { flattenedFrom[out] = Array(xs.dropFirst()) }
            } else if xs.count > 2 {
                try chain([(.flatten, [:])])  // tokens: srtool's order is Keras'
            } else {
                try chain([])
                flattenedFrom[out] = flattenedFrom[x]
            }

        case "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout":
            // Identity at inference.
            try chain([])
            flattenedFrom[out] = flattenedFrom[x]

        case "Reshape":
            guard let target = c["target_shape"] as? [Int] else { throw bad("cannot read target_shape") }
            try lowerReshape(name: name, input: x, shape: xs, target: target, out: out)

        case "ZeroPadding2D":
            try need4D()
            let p = c["padding"]
            var pads: [Int]
            if let v = p as? Int { pads = [v, v, v, v] }
            else if let v = p as? [Int], v.count == 2 { pads = [v[0], v[1], v[0], v[1]] }
            else if let v = p as? [[Int]], v.count == 2, v[0].count == 2, v[1].count == 2 { pads = [v[0][0], v[1][0], v[0][1], v[1][1]] }
            else { throw bad("cannot read padding") }
            try chain([(.pad(pads: pads, value: 0), [:])])

        case "Add", "Maximum", "Multiply":
            guard inputs.count >= 2 else { throw bad("needs at least two inputs") }
            let tags = inputs.map { flattenedFrom[$0] }
            guard tags.allSatisfy({ $0 == tags[0] }) else { throw fail("mixes channels-last Flatten outputs with other tensors") }
            let op: Op = layer.className == "Add" ? .add : layer.className == "Maximum" ? .max : .mul
            try chain([(op, [:])])
            flattenedFrom[out] = tags[0]

        case "Concatenate":
            // A channels-last Flatten output (kept in NCHW order) joins in Keras' order.
            let parts = try inputs.map { try kerasOrder($0) }
            var axis = (c["axis"] as? Int) ?? -1
            if axis < 0 { axis += xs.count }
            guard axis >= 1, axis < xs.count else { throw fail("axis \(axis) is not supported") }
            // NHWC axis → NCHW axis.
            let mapped = xs.count == 4 ? [0, 2, 3, 1][axis] : axis
            try chain([(.concat(axis: mapped), [:])], parts)

        case "Softmax":
            var axis = (c["axis"] as? Int) ?? ((c["axis"] as? [Int])?.count == 1 ? (c["axis"] as? [Int])?[0] : nil) ?? -1
            if axis < 0 { axis += xs.count }
            guard axis >= 1, axis < xs.count else { throw fail("axis \(axis) is not supported") }
            try checkNotFlattened()
            try chain([(.softmax(axis: Self.nchwAxis(axis, rank: xs.count)), [:])])

        case "ELU":
            try chain([(.unary(.elu(alpha: try number("alpha") ?? 1)), [:])])
            flattenedFrom[out] = flattenedFrom[x]

        case "Identity":
            try chain([])
            flattenedFrom[out] = flattenedFrom[x]

        case "Rescaling":
            // y = x·scale + offset; each a number or one value per channel.
            func values(_ key: String, _ d: Float) throws -> [Float] {
                if let v = c[key] as? NSNumber { return [v.floatValue] }
                if let v = c[key] as? [NSNumber] { return v.map(\.floatValue) }
                if c[key] == nil || c[key] is NSNull { return [d] }
                throw bad("cannot read '\(key)'")
            }
            let scale = try values("scale", 1), offset = try values("offset", 0)
            let channels = xs.count == 4 ? xs[1] : (xs.last ?? 1)
            guard [1, channels].contains(scale.count), [1, channels].contains(offset.count) else {
                throw fail("scale/offset of \(scale.count)/\(offset.count) values for \(channels) channels")
            }
            let axis = xs.count == 4 ? 1 : xs.count - 1
            try chain([(.scale(axis: axis), [
                "weight": try weight(name, "scale") { try Tensor(shape: [scale.count], values: scale) },
                "bias": try weight(name, "offset") { try Tensor(shape: [offset.count], values: offset) },
            ])])

        case "Normalization":
            // y = (x − mean) / max(√variance, 1e-7) per channel (Keras 3; `invert` refused).
            guard !flag("invert", default: false) else { throw fail("invert = true is not supported") }
            let channels = xs.count == 4 ? xs[1] : (xs.last ?? 1)
            var mean: [Float], variance: [Float]
            if let m = c["mean"] as? [NSNumber], let v = c["variance"] as? [NSNumber] {
                mean = m.map(\.floatValue); variance = v.map(\.floatValue)
            } else if let m = c["mean"] as? NSNumber, let v = c["variance"] as? NSNumber {
                mean = [m.floatValue]; variance = [v.floatValue]
            } else {
                let w = try weightTensors(layer, count: 2...3)
                mean = w[0].values; variance = w[1].values
            }
            guard mean.count == variance.count, [1, channels].contains(mean.count) else {
                throw fail("mean/variance of \(mean.count) values for \(channels) channels (only per-channel statistics are supported)")
            }
            let inv = variance.map { 1 / max($0.squareRoot(), 1e-7) }
            let axis = xs.count == 4 ? 1 : xs.count - 1
            try chain([(.scale(axis: axis), [
                "weight": try weight(name, "inverse_std") { try Tensor(shape: [inv.count], values: inv) },
                "bias": try weight(name, "shift") { try Tensor(shape: [inv.count], values: zip(mean, inv).map { -$0 * $1 }) },
            ])])

        case "UpSampling2D":
            // nearest repeats each pixel (asymmetric coordinates, floor); bilinear is
            // half-pixel (Keras 3's image.resize in every backend).
            try need4D()
            let size = try ints("size", default: [2, 2])
            guard xs[2] * size[0] < 1 << 24, xs[3] * size[1] < 1 << 24 else { throw bad("size \(size) for input \(xs)") }
            let interpolation = c["interpolation"] as? String ?? "nearest"
            let resize: ResizeAttributes
            switch interpolation {
            case "nearest":
                resize = ResizeAttributes(mode: .nearest, coordinates: .asymmetric, rounding: .floor,
                                          size: [xs[2] * size[0], xs[3] * size[1]], scales: size.map(Float.init))
            case "bilinear":
                resize = ResizeAttributes(mode: .linear, coordinates: .halfPixel, rounding: .floor,
                                          size: [xs[2] * size[0], xs[3] * size[1]], scales: size.map(Float.init))
            default:
                throw fail("interpolation '\(interpolation)' is not supported (nearest, bilinear)")
            }
            try chain([(.resize(resize), [:])])

        case "Cropping2D":
            try need4D()
            let p = c["cropping"]
            var crop: [Int]  // top, bottom, left, right
            if let v = p as? Int { crop = [v, v, v, v] }
            else if let v = p as? [Int], v.count == 2 { crop = [v[0], v[0], v[1], v[1]] }
            else if let v = p as? [[Int]], v.count == 2, v[0].count == 2, v[1].count == 2 { crop = [v[0][0], v[0][1], v[1][0], v[1][1]] }
            else { throw bad("cannot read cropping") }
            guard crop.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }), crop[0] + crop[1] < xs[2], crop[2] + crop[3] < xs[3] else {
                throw bad("cropping \(crop) leaves nothing of \(xs)")
            }
            var steps: [(Op, [String: String])] = []
            if crop[0] + crop[1] > 0 { steps.append((.slice(axis: 2, start: crop[0], end: xs[2] - crop[1], step: 1), [:])) }
            if crop[2] + crop[3] > 0 { steps.append((.slice(axis: 3, start: crop[2], end: xs[3] - crop[3], step: 1), [:])) }
            try chain(steps)

        case "LayerNormalization":
            try checkNotFlattened()
            let axes = (c["axis"] as? [Int]) ?? (c["axis"] as? Int).map { [$0] } ?? [-1]
            guard axes.count == 1, let axis = axes.first, axis == -1 || axis == xs.count - 1 else {
                throw fail("axis \(axes) is not supported (only the last axis)")
            }
            let center = flag("center", default: true), scale = flag("scale", default: true)
            let n = (center ? 1 : 0) + (scale ? 1 : 0)
            let w = n == 0 ? [] : try weightTensors(layer, count: n...n)
            let channels = xs.count == 4 ? xs[1] : (xs.last ?? 1)
            var params: [String: String] = [:]
            var i = 0
            if scale { let t = w[i]; params["scale"] = try weight(name, "gamma") { try Self.vector(t, channels, "gamma", layer: name) }; i += 1 }
            if center { let t = w[i]; params["bias"] = try weight(name, "beta") { try Self.vector(t, channels, "beta", layer: name) } }
            let norm = Op.layerNorm(axis: xs.count == 4 ? 3 : xs.count - 1, epsilon: try number("epsilon") ?? 1e-3)
            // NCHW images: normalise over C with the channels moved last and back.
            try chain(xs.count == 4 ? [(.transpose(perm: [0, 2, 3, 1]), [:]), (norm, params), (.transpose(perm: [0, 3, 1, 2]), [:])]
                                    : [(norm, params)])

        case "LayerScale":
            // keras.applications.convnext: x·γ per channel.
            let w = try weightTensors(layer, count: 1...1)
            let channels = xs.count == 4 ? xs[1] : (xs.last ?? 1)
            let gamma = try weight(name, "gamma") { try Self.vector(w[0], channels, "gamma", layer: name) }
            try chain([(.scale(axis: xs.count == 4 ? 1 : xs.count - 1), ["weight": gamma])])

        case "Subtract":
            guard inputs.count == 2 else { throw bad("needs two inputs") }
            let minusOne = try weight(name, "minus_one") { try Tensor(shape: [1], values: [-1]) }
            let negated = assembler.unique("\(out)/negated")
            try assembler.emit(Node(name: negated, op: .scale(axis: 1), inputs: [inputs[1]], outputs: [negated], params: ["weight": minusOne]))
            try assembler.emit(Node(name: out, op: .add, inputs: [inputs[0], negated], outputs: [out]))

        case "Average":
            guard inputs.count >= 2 else { throw bad("needs at least two inputs") }
            let share = try weight(name, "share") { try Tensor(shape: [1], values: [1 / Float(inputs.count)]) }
            try chain([(.add, [:]), (.scale(axis: 1), ["weight": share])])

        case "Minimum":
            // min(a, b, …) = −max(−a, −b, …)
            guard inputs.count >= 2 else { throw bad("needs at least two inputs") }
            let minusOne = try weight(name, "minus_one") { try Tensor(shape: [1], values: [-1]) }
            var negated: [String] = []
            for (i, input) in inputs.enumerated() {
                let n = assembler.unique("\(out)/negated\(i)")
                try assembler.emit(Node(name: n, op: .scale(axis: 1), inputs: [input], outputs: [n], params: ["weight": minusOne]))
                negated.append(n)
            }
            try chain([(.max, [:]), (.scale(axis: 1), ["weight": minusOne])], negated)

        case "CustomScaleLayer":
            // keras.applications.inception_resnet_v2: inputs[0] + inputs[1]·scale.
            guard inputs.count == 2, let scale = try number("scale") else { throw bad("needs two inputs and a scale") }
            let factor = try weight(name, "scale") { try Tensor(shape: [1], values: [scale]) }
            let scaled = assembler.unique("\(out)/scaled")
            try assembler.emit(Node(name: scaled, op: .scale(axis: 1), inputs: [inputs[1]], outputs: [scaled], params: ["weight": factor]))
            try assembler.emit(Node(name: out, op: .add, inputs: [inputs[0], scaled], outputs: [out]))

        default:
            throw SRError.unsupported("layer '\(name)' has class '\(layer.className)', which srtool does not support")
        }
    }

    /// A Keras 2 SlicingOpLambda (`x[:, 1:3, ::2]`): one `slice` per sliced axis (Python's
    /// rules for negative and missing bounds); the batch axis whole; an index, a new axis
    /// or an ellipsis refused.
    func lowerSlicing(name: String, input x: String, shape xs: [Int], spec: [Any], out: String) throws {
        func fail(_ why: String) -> SRError { .unsupported("layer '\(name)' (SlicingOpLambda): \(why)") }
        if flattenedFrom[x] != nil { throw fail("slices a channels-last Flatten, whose value order srtool's NCHW graph does not keep") }
        guard spec.count <= xs.count else { throw fail("\(spec.count) indices for a tensor of rank \(xs.count)") }
        // The tensor's shape as Keras sees it (channels-last).
        let keras = xs.count == 4 ? [xs[0], xs[2], xs[3], xs[1]] : xs
        var steps: [(Op, [String: String])] = []
        for (axis, entry) in spec.enumerated() {
            guard let d = entry as? [String: Any] else { throw fail("index \(entry) along axis \(axis) (only start:stop:step slices are supported)") }
            func bound(_ key: String) throws -> Int? {
                if d[key] == nil || d[key] is NSNull { return nil }
                guard let v = d[key] as? Int, abs(v) < 1 << 31 else { throw fail("cannot read '\(key)' of axis \(axis)") }
                return v
            }
            let n = keras[axis], step = try bound("step") ?? 1
            guard step >= 1 else { throw fail("step \(step) along axis \(axis) (only positive steps are supported)") }
            func clamp(_ v: Int?, _ missing: Int) -> Int { v.map { min(max($0 < 0 ? $0 + n : $0, 0), n) } ?? missing }
            let start = clamp(try bound("start"), 0), stop = clamp(try bound("stop"), n)
            if start == 0 && stop == n && step == 1 { continue }
            guard axis > 0 else { throw fail("slices the batch axis") }
            guard start < stop else { throw fail("leaves nothing of axis \(axis) (\(start)..<\(stop))") }
            steps.append((.slice(axis: Self.nchwAxis(axis, rank: xs.count), start: start, end: stop, step: step), [:]))
        }
        var current = x
        for (i, (op, p)) in steps.enumerated() {
            let output = i == steps.count - 1 ? out : assembler.unique("\(out)/\(op.name)")
            try assembler.emit(Node(name: i == 0 ? out : "\(out)/\(op.name)", op: op, inputs: [current], outputs: [output], params: p))
            current = output
        }
        if steps.isEmpty { try assembler.emit(Node(name: out, op: .identity, inputs: [x], outputs: [out])) }
    }

    /// `x` in Keras' value order: a Flatten of an NCHW image holds C, H, W order, so it is
    /// reshaped back, moved channels-last and flattened again (`x` itself otherwise).
    func kerasOrder(_ x: String) throws -> String {
        guard let chw = flattenedFrom[x] else { return x }
        var current = x
        for op in [Op.reshape(shape: chw), .transpose(perm: [0, 2, 3, 1]), .flatten] {
            let o = assembler.unique("\(x)/channels_last_\(op.name)")
            try assembler.emit(Node(name: o, op: op, inputs: [current], outputs: [o]))
            current = o
        }
        return current
    }

    /// TFOpLambda functions → the layer class (and activation) that computes the same.
    static let tfOps: [String: (String, String?)] = [
        "__operators__.add": ("Add", nil), "math.add": ("Add", nil), "math.multiply": ("Multiply", nil),
        "math.subtract": ("Subtract", nil), "math.truediv": ("TrueDivide", nil), "math.divide": ("TrueDivide", nil),
        "math.maximum": ("Maximum", nil), "math.minimum": ("Minimum", nil),
        "nn.relu": ("Activation", "relu"), "nn.relu6": ("Activation", "relu6"), "math.sigmoid": ("Activation", "sigmoid"),
        "nn.sigmoid": ("Activation", "sigmoid"), "math.tanh": ("Activation", "tanh"), "nn.silu": ("Activation", "silu"),
        "nn.swish": ("Activation", "silu"), "nn.gelu": ("Activation", "gelu"), "nn.softplus": ("Activation", "softplus"),
        "math.softplus": ("Activation", "softplus"), "nn.elu": ("Activation", "elu"), "nn.selu": ("Activation", "selu"),
        "math.exp": ("Activation", "exponential"),
    ]

    /// Every layer class the table lowers; the merge layers take several inputs.
    static let layerClasses: Set<String> = Set([
        "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "BatchNormalization", "Activation", "ReLU", "LeakyReLU",
        "PReLU", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dropout",
        "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Reshape", "ZeroPadding2D", "Concatenate",
        "Softmax", "ELU", "Identity", "Rescaling", "Normalization", "Cropping2D", "LayerNormalization", "LayerScale",
        "UpSampling2D", "Conv2DTranspose",
    ]).union(mergeClasses)
    static let mergeClasses: Set<String> = ["Add", "Maximum", "Multiply", "Concatenate", "Subtract", "Average", "Minimum", "CustomScaleLayer",
                                            "Divide", "TrueDivide"]

    /// A Keras (channels-last) axis of a rank-`rank` tensor → srtool's axis (NCHW for images).
    static func nchwAxis(_ axis: Int, rank: Int) -> Int { rank == 4 ? [0, 2, 3, 1][axis] : axis }

    /// Keras Reshape (per sample, channels-last order) on srtool's layout: an NCHW image is
    /// moved to NHWC before, and an image result moved back to NCHW after, unless one of
    /// the moves keeps the memory order (H·W = 1 or C = 1).
    func lowerReshape(name: String, input x: String, shape xs: [Int], target t: [Int], out: String) throws {
        let count = xs.dropFirst().reduce(1, *)
        var target = t
        if let m = target.firstIndex(of: -1) {
            guard let known = Shape.elementCount(target.filter { $0 != -1 }), known > 0, count % known == 0 else {
                throw SRError.malformed("layer '\(name)' (Reshape): cannot reshape to \(t)")
            }
            target[m] = count / known
        }
        guard target.allSatisfy({ $0 >= 1 }), Shape.elementCount(target) == count else {
            throw SRError.malformed("layer '\(name)' (Reshape): cannot reshape \(count) values to \(t)")
        }
        if flattenedFrom[x] != nil && target.count != 1 {
            throw SRError.unsupported("layer '\(name)' (Reshape): reshapes a channels-last Flatten, whose value order srtool's NCHW graph does not keep")
        }
        var steps: [(Op, [String: String])] = []
        if xs.count == 4, xs[2] * xs[3] > 1, xs[1] > 1 { steps.append((.transpose(perm: [0, 2, 3, 1]), [:])) }
        if target.count == 3 {
            if target[0] * target[1] > 1 && target[2] > 1 {
                steps.append((.reshape(shape: target), [:]))
                steps.append((.transpose(perm: [0, 3, 1, 2]), [:]))
            } else {
                steps.append((.reshape(shape: [target[2], target[0], target[1]]), [:]))
            }
        } else {
            steps.append((.reshape(shape: target), [:]))
        }
        var current = x
        for (i, (op, p)) in steps.enumerated() {
            let last = i == steps.count - 1
            let output = last ? out : assembler.unique("\(out)/\(op.name)")
            try assembler.emit(Node(name: i == 0 ? out : "\(out)/\(op.name)", op: op, inputs: [current], outputs: [output], params: p))
            current = output
        }
        if target.count == 1 { flattenedFrom[out] = flattenedFrom[x] }
    }

    /// A Keras activation name → op (nil: linear); `keras2`: the file is Keras 2's, whose
    /// hard_sigmoid is 0.2·x + 0.5 clipped.
    static func activation(_ name: String, layer: String, keras2: Bool = false) throws -> Op? {
        switch name {
        case "linear": nil
        case "relu": .relu(slope: 0)
        case "relu6": .clip(min: 0, max: 6)
        case "sigmoid": .sigmoid
        case "tanh": .tanh
        case "softmax": .softmax(axis: 1)
        case "silu", "swish": .unary(.silu)
        case "hard_silu", "hard_swish": .unary(.hardSwish)
        case "gelu": .unary(.gelu)
        case "elu": .unary(.elu(alpha: 1))
        case "selu": .unary(.selu(alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875))
        case "softplus": .unary(.softplus)
        case "softsign": .unary(.softsign)
        case "mish": .unary(.mish)
        case "exponential": .unary(.exp)
        // Keras 3's relu6(x + 3)/6.
        case "hard_sigmoid": .unary(.hardSigmoid(alpha: keras2 ? 0.2 : 1 / 6, beta: 0.5))
        case "leaky_relu": .relu(slope: 0.2)
        default: throw SRError.unsupported("layer '\(layer)': activation '\(name)' is not supported")
        }
    }

    /// `[kh, kw, in, out]` → `[out, in, kh, kw]`; also a Conv2DTranspose kernel
    /// `[kh, kw, out, in]` → `[in, out, kh, kw]` (the same permutation; no flip: both are
    /// the adjoint of a cross-correlation).
    static func hwioToOIHW(_ k: Tensor) -> Tensor {
        let (kh, kw, ci, co) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        let w = Tensor(uninitialized: [co, ci, kh, kw])
        for y in 0..<kh { for x in 0..<kw { for i in 0..<ci { for o in 0..<co {
            w.pointer[((o * ci + i) * kh + y) * kw + x] = k.pointer[((y * kw + x) * ci + i) * co + o]
        } } } }
        return w
    }

    /// `[H, W, C]` → `[C, H, W]`.
    static func hwcToCHW(_ t: Tensor) throws -> Tensor {
        let (h, w, c) = (t.shape[0], t.shape[1], t.shape[2])
        var v = [Float](repeating: 0, count: t.count)
        for y in 0..<h { for x in 0..<w { for k in 0..<c { v[(k * h + y) * w + x] = t.pointer[(y * w + x) * c + k] } } }
        return try Tensor(shape: [c, h, w], values: v)
    }

    /// Depthwise `[kh, kw, in, mult]` → `[in·mult, 1, kh, kw]`; output channel `c·mult + m`.
    static func depthwiseToOIHW(_ k: Tensor) -> Tensor {
        let (kh, kw, ci, m) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        let w = Tensor(uninitialized: [ci * m, 1, kh, kw])
        for y in 0..<kh { for x in 0..<kw { for c in 0..<ci { for j in 0..<m {
            w.pointer[((c * m + j) * kh + y) * kw + x] = k.pointer[((y * kw + x) * ci + c) * m + j]
        } } } }
        return w
    }

    /// Dense `[in, out]` → `[out, in]`; with `flattenedCHW` = [C, H, W] the input index
    /// `(h·W + w)·C + c` (Keras) becomes `c·H·W + h·W + w` (NCHW).
    static func denseToOutIn(_ k: Tensor, flattenedCHW chw: [Int]?) -> Tensor {
        let (n, units) = (k.shape[0], k.shape[1])
        let w = Tensor(uninitialized: [units, n])
        for i in 0..<n {
            var row = i
            if let chw {
                let (c, plane) = (chw[0], chw[1] * chw[2])
                row = (i % plane) * c + i / plane
            }
            for o in 0..<units { w.pointer[o * n + i] = k.pointer[row * units + o] }
        }
        return w
    }

    static func vector(_ t: Tensor, _ n: Int, _ what: String, layer: String) throws -> Tensor {
        guard t.count == n else { throw SRError.malformed("layer '\(layer)': \(what) has \(t.count) values, expected \(n)") }
        return try t.reshaped([n])
    }
}
