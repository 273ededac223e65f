import Foundation
import SRCore

/// The layer table: each Caffe layer type → canonical nodes, with Caffe's semantics
/// (`../shared/REFERENCE.md`, Caffe's layer sources): pooling rounds up and divides by the
/// window clipped to `H + pad`, BatchNorm divides its statistics by the scale-factor blob,
/// LRN WITHIN_CHANNEL is `x·(1 + α·mean(x²))^−β`, Dropout is the identity at test time.
extension CaffeNetBuilder {
    func lower(_ l: Caffe_LayerParameter) throws {
        let name = l.name
        func fail(_ why: String) -> SRError { .unsupported("layer '\(name)' (\(l.type)): \(why)") }
        func bad(_ why: String) -> SRError { .malformed("layer '\(name)' (\(l.type)): \(why)") }
        func bottom(_ i: Int = 0) throws -> String {
            guard i < l.bottom.count else { throw bad("needs \(i + 1) bottom blob(s), has \(l.bottom.count)") }
            return try self.tensor(forBlob: l.bottom[i], layer: name)
        }
        guard l.top.count == 1 || l.type == "Split" else {
            throw bad("has \(l.top.count) top blobs; srtool supports one (except Split)")
        }
        /// Emits the layer's last node, which produces its top.
        func emit(_ op: Op, _ inputs: [String], params: [String: String] = [:]) throws {
            let out = output(forTop: l.top[0], layer: name)
            try assembler.emit(Node(name: name, op: op, inputs: inputs, outputs: [out], params: params))
            define(top: l.top[0], as: out)
        }
        /// Emits a helper node before the layer's last one and returns its output.
        func helper(_ suffix: String, _ op: Op, _ inputs: [String], params: [String: String] = [:]) throws -> String {
            let out = assembler.unique("\(name)/\(suffix)")
            try assembler.emit(Node(name: out, op: op, inputs: inputs, outputs: [out], params: params))
            return out
        }
        func shape(_ t: String) throws -> [Int] {
            guard let s = assembler.shape(t) else { throw bad("input '\(t)' has no shape") }
            return s
        }
        /// Axis 1 of a blob, which per-channel layers read; Caffe blobs are N×C×….
        func channels(_ t: String) throws -> Int {
            let s = try shape(t)
            guard s.count >= 2 else { throw bad("input '\(t)' has shape \(s); a per-channel layer needs N×C×…") }
            return s[1]
        }
        func weightsOf(_ count: ClosedRange<Int>) throws -> [CaffeWeights.Blob] {
            let blobs = try weights.blobs(layer: name, type: l.type)
            guard count.contains(blobs.count) else {
                throw bad("has \(blobs.count) weight blob(s) in \(weights.fileName), expected \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)–\(count.upperBound)")")
            }
            return blobs
        }
        func tensor(_ b: CaffeWeights.Blob, _ shape: [Int], role: String) throws -> Tensor {
            guard b.matches(shape) else {
                throw SRError.malformed("layer '\(name)' (\(l.type)): \(role) blob in \(weights.fileName) has shape \(b.shape), \(description) implies \(shape)")
            }
            return try b.tensor(shape)
        }
        func add(_ t: Tensor, _ role: String) -> String { assembler.addWeight(t, name: "\(name).\(role)") }

        switch l.type {
        case "Convolution":
            let p = l.convolutionParam
            guard p.axis == 1 else { throw fail("axis \(p.axis) is not supported") }
            let x = try bottom()
            let xs = try shape(x)
            guard xs.count == 4 else { throw fail("input \(xs) is not N×C×H×W") }
            let kernel = try Self.pair(p.kernelSize, h: p.hasKernelH ? p.kernelH : nil, w: p.hasKernelW ? p.kernelW : nil,
                                       default: nil, what: "kernel_size", layer: name)
            let pad = try Self.pair(p.pad, h: p.hasPadH ? p.padH : nil, w: p.hasPadW ? p.padW : nil, default: 0, what: "pad", layer: name)
            let stride = try Self.pair(p.stride, h: p.hasStrideH ? p.strideH : nil, w: p.hasStrideW ? p.strideW : nil,
                                       default: 1, what: "stride", layer: name)
            let dilation = try Self.pair(p.dilation, h: nil, w: nil, default: 1, what: "dilation", layer: name)
            let group = Int(p.group)
            let outC = Int(p.numOutput)
            guard outC >= 1, group >= 1, xs[1] % group == 0, outC % group == 0,
                  kernel.allSatisfy({ $0 >= 1 }), stride.allSatisfy({ $0 >= 1 }), dilation.allSatisfy({ $0 >= 1 }) else {
                throw bad("num_output \(outC), group \(group), kernel \(kernel), stride \(stride) do not fit input \(xs)")
            }
            let blobs = try weightsOf(p.biasTerm ? 2...2 : 1...1)
            var params = ["weight": add(try tensor(blobs[0], [outC, xs[1] / group, kernel[0], kernel[1]], role: "weight"), "weight")]
            if p.biasTerm { params["bias"] = add(try tensor(blobs[1], [outC], role: "bias"), "bias") }
            try emit(.conv2d(Conv2DAttributes(kernel: kernel, stride: stride, pads: [pad[0], pad[1], pad[0], pad[1]],
                                              dilation: dilation, group: group)), [x], params: params)

        case "InnerProduct":
            let p = l.innerProductParam
            var x = try bottom()
            let xs = try shape(x)
            guard p.axis == 1 || (p.axis == -1 && xs.count == 2) else { throw fail("axis \(p.axis) is not supported (only 1)") }
            if xs.count != 2 { x = try helper("flatten", .flatten, [x]) }
            let inC = try channels(x), outC = Int(p.numOutput)
            guard outC >= 1 else { throw bad("num_output is \(outC)") }
            let blobs = try weightsOf(p.biasTerm ? 2...2 : 1...1)
            var w: Tensor
            if p.transpose {
                let t = try tensor(blobs[0], [inC, outC], role: "weight")
                w = Tensor(uninitialized: [outC, inC])
                for i in 0..<inC { for o in 0..<outC { w.pointer[o * inC + i] = t.pointer[i * outC + o] } }
            } else {
                w = try tensor(blobs[0], [outC, inC], role: "weight")
            }
            var params = ["weight": add(w, "weight")]
            if p.biasTerm { params["bias"] = add(try tensor(blobs[1], [outC], role: "bias"), "bias") }
            try emit(.linear, [x], params: params)

        case "Pooling":
            let p = l.poolingParam
            let x = try bottom()
            let xs = try shape(x)
            guard xs.count == 4 else { throw fail("input \(xs) is not N×C×H×W") }
            if p.pool == .stochastic { throw fail("STOCHASTIC pooling is not supported") }
            let isMax = p.pool == .max
            if p.globalPooling {
                guard !p.hasKernelSize && !p.hasKernelH && !p.hasKernelW else { throw bad("global_pooling with a kernel size") }
                try emit(isMax ? .globalMaxPool : .globalAvgPool, [x])
                return
            }
            let kernel = try Self.pair(p.hasKernelSize ? [p.kernelSize] : [], h: p.hasKernelH ? p.kernelH : nil,
                                       w: p.hasKernelW ? p.kernelW : nil, default: nil, what: "kernel_size", layer: name)
            let pad = try Self.pair(p.hasPad ? [p.pad] : [], h: p.hasPadH ? p.padH : nil, w: p.hasPadW ? p.padW : nil,
                                    default: 0, what: "pad", layer: name)
            let stride = try Self.pair(p.hasStride ? [p.stride] : [], h: p.hasStrideH ? p.strideH : nil,
                                       w: p.hasStrideW ? p.strideW : nil, default: 1, what: "stride", layer: name)
            guard kernel.allSatisfy({ $0 >= 1 }), stride.allSatisfy({ $0 >= 1 }), pad[0] < kernel[0], pad[1] < kernel[1] else {
                throw bad("kernel \(kernel), stride \(stride), pad \(pad) are invalid (Caffe needs pad < kernel)")
            }
            let ceil = p.roundMode == .ceil
            // Caffe's output size (pooling_layer.cpp): round up, then drop a last window
            // starting at or past `H + pad` — but only when there is padding. Without
            // padding a window can start past the input; Caffe then outputs −FLT_MAX (max)
            // or divides by zero (average). srtool refuses that rather than copy it.
            for axis in 0..<2 {
                let size = xs[2 + axis], k = kernel[axis], s = stride[axis], pd = pad[axis]
                guard size + 2 * pd >= k else { throw bad("window \(kernel) does not fit input \(xs) with pad \(pad)") }
                var caffe = (ceil ? (size + 2 * pd - k + s - 1) / s : (size + 2 * pd - k) / s) + 1
                if pd > 0 && (caffe - 1) * s >= size + pd { caffe -= 1 }
                if (caffe - 1) * s >= size + pd {
                    throw fail("Caffe's last window on axis \(axis == 0 ? "H" : "W") starts outside the input (size \(size), kernel \(k), stride \(s)); its output there is undefined")
                }
            }
            let a = Pool2DAttributes(kernel: kernel, stride: stride, pads: [pad[0], pad[1], pad[0], pad[1]],
                                     ceilMode: ceil, countIncludePad: true)
            try emit(isMax ? .maxPool2d(a) : .avgPool2d(a), [x])

        case "ReLU":
            try emit(.relu(slope: l.reluParam.negativeSlope), [try bottom()])

        case "PReLU":
            let x = try bottom()
            let c = try channels(x)
            let blobs = try weightsOf(1...1)
            let n = l.preluParam.channelShared ? 1 : c
            try emit(.prelu, [x], params: ["slope": add(try tensor(blobs[0], [n], role: "slope"), "slope")])

        case "Sigmoid": try emit(.sigmoid, [try bottom()])
        case "TanH": try emit(.tanh, [try bottom()])
        case "Dropout", "Split":
            // Identity at test time (Caffe's Dropout scales during training only).
            let x = try bottom()
            for top in l.top { define(top: top, as: x) }

        case "LRN":
            let p = l.lrnParam
            let size = Int(p.localSize)
            guard size >= 1, size % 2 == 1 else { throw bad("local_size \(size) must be odd") }
            let across = p.normRegion == .acrossChannels
            // WITHIN_CHANNEL ignores k: Caffe builds it as x · (1 + α·avgpool(x²))^−β.
            try emit(.lrn(LRNAttributes(size: size, alpha: p.alpha, beta: p.beta, k: across ? p.k : 1,
                                        acrossChannels: across)), [try bottom()])

        case "BatchNorm":
            let p = l.batchNormParam
            if p.hasUseGlobalStats && !p.useGlobalStats {
                throw fail("use_global_stats: false normalises with the batch's own statistics (training mode)")
            }
            let x = try bottom()
            let c = try channels(x)
            let blobs = try weightsOf(3...3)
            let factor = try tensor(blobs[2], [1], role: "scale factor").values[0]
            // The stored statistics are sums scaled by the factor; Caffe divides (0 → 0).
            let inv: Float = factor == 0 ? 0 : 1 / factor
            let mean = try tensor(blobs[0], [c], role: "mean"), variance = try tensor(blobs[1], [c], role: "variance")
            let m = Tensor(uninitialized: [c]), v = Tensor(uninitialized: [c])
            for i in 0..<c { m.pointer[i] = mean.pointer[i] * inv; v.pointer[i] = variance.pointer[i] * inv }
            try emit(.batchNorm(epsilon: p.eps), [x], params: ["mean": add(m, "mean"), "variance": add(v, "variance")])

        case "Scale", "Bias":
            guard l.bottom.count == 1 else { throw fail("a second bottom (the \(l.type == "Scale" ? "scale" : "bias") from a blob) is not supported") }
            let x = try bottom()
            let xs = try shape(x)
            let (axis, numAxes) = l.type == "Scale" ? (l.scaleParam.axis, l.scaleParam.numAxes) : (l.biasParam.axis, l.biasParam.numAxes)
            guard axis == 1 || (axis == -3 && xs.count == 4) || (axis == -1 && xs.count == 2), numAxes == 1 || numAxes == 0 else {
                throw fail("axis \(axis), num_axes \(numAxes): only per-channel (axis 1, num_axes 1) or scalar (num_axes 0) is supported")
            }
            let n = numAxes == 0 ? 1 : try channels(x)
            var params: [String: String] = [:]
            if l.type == "Scale" {
                let blobs = try weightsOf(l.scaleParam.biasTerm ? 2...2 : 1...1)
                params["weight"] = add(try tensor(blobs[0], [n], role: "scale"), "weight")
                if l.scaleParam.biasTerm { params["bias"] = add(try tensor(blobs[1], [n], role: "bias"), "bias") }
            } else {
                let blobs = try weightsOf(1...1)
                params["weight"] = add(try Tensor(shape: [1], values: [1]), "weight")
                params["bias"] = add(try tensor(blobs[0], [n], role: "bias"), "bias")
            }
            try emit(.scale(axis: 1), [x], params: params)

        case "Eltwise":
            let p = l.eltwiseParam
            guard l.bottom.count >= 2 else { throw bad("needs at least two bottoms") }
            var xs = try l.bottom.indices.map { try bottom($0) }
            switch p.operation {
            case .sum:
                guard p.coeff.isEmpty || p.coeff.count == xs.count else {
                    throw bad("has \(p.coeff.count) coefficients for \(xs.count) bottoms")
                }
                for (i, c) in p.coeff.enumerated() where c != 1 {
                    let w = add(try Tensor(shape: [1], values: [c]), "coeff\(i)")
                    xs[i] = try helper("coeff\(i)", .scale(axis: 1), [xs[i]], params: ["weight": w])
                }
                try emit(.add, xs)
            case .prod:
                guard p.coeff.isEmpty else { throw bad("coeff is only allowed for SUM") }
                try emit(.mul, xs)
            case .max:
                guard p.coeff.isEmpty else { throw bad("coeff is only allowed for SUM") }
                try emit(.max, xs)
            }

        case "Concat":
            let p = l.concatParam
            let xs = try (0..<max(1, l.bottom.count)).map { try bottom($0) }
            let rank = try shape(xs[0]).count
            var axis = p.hasAxis ? Int(p.axis) : Int(p.concatDim)
            if axis < 0 { axis += rank }
            guard axis >= 1, axis < rank else { throw fail("axis \(axis) is not supported (the batch axis or out of range)") }
            if xs.count == 1 { define(top: l.top[0], as: xs[0]); return }
            try emit(.concat(axis: axis), xs)

        case "Flatten":
            let p = l.flattenParam
            let x = try bottom()
            let rank = try shape(x).count
            let end = p.endAxis < 0 ? Int(p.endAxis) + rank : Int(p.endAxis)
            guard p.axis == 1, end == rank - 1 else { throw fail("axis \(p.axis), end_axis \(p.endAxis): only the default (1, −1) is supported") }
            try emit(.flatten, [x])

        case "Reshape":
            let p = l.reshapeParam
            let x = try bottom()
            let xs = try shape(x)
            guard p.axis == 0, p.numAxes == -1 else { throw fail("axis/num_axes are not supported") }
            let spec = p.shape.dim.map(Int.init)
            guard let first = spec.first, first == 0 || first == xs.first else {
                throw fail("reshaping the batch axis (shape \(spec)) is not supported; its first dimension must be 0")
            }
            // Caffe: 0 copies the input dimension, one −1 takes what is left.
            var out = [Int]()
            for (i, d) in spec.enumerated().dropFirst() {
                if d == 0 {
                    guard i < xs.count else { throw bad("dimension \(i) is 0 but the input \(xs) has no such axis") }
                    out.append(xs[i])
                } else {
                    out.append(d)
                }
            }
            let total = xs.dropFirst().reduce(1, *)
            if out.filter({ $0 == -1 }).count == 1 {
                guard let known = Shape.elementCount(out.filter { $0 != -1 }), known > 0, total % known == 0 else {
                    throw bad("cannot reshape \(xs) to \(spec)")
                }
                out = out.map { $0 == -1 ? total / known : $0 }
            }
            guard out.allSatisfy({ $0 >= 1 }), Shape.elementCount(out) == total else { throw bad("cannot reshape \(xs) to \(spec)") }
            try emit(.reshape(shape: out), [x])

        case "Softmax":
            let x = try bottom()
            let rank = try shape(x).count
            var axis = Int(l.softmaxParam.axis)
            if axis < 0 { axis += rank }
            guard axis >= 1, axis < rank else { throw fail("axis \(l.softmaxParam.axis) is not supported") }
            try emit(.softmax(axis: axis), [x])

        case "Power":
            let p = l.powerParam
            var x = try bottom()
            // y = (shift + scale·x)^power
            if p.scale != 1 || p.shift != 0 {
                let w = add(try Tensor(shape: [1], values: [p.scale]), "scale"), b = add(try Tensor(shape: [1], values: [p.shift]), "shift")
                if p.power == 1 { try emit(.scale(axis: 1), [x], params: ["weight": w, "bias": b]); return }
                x = try helper("affine", .scale(axis: 1), [x], params: ["weight": w, "bias": b])
            }
            try emit(p.power == 1 ? .identity : .power(exponent: p.power), [x])

        default:
            throw SRError.unsupported("layer '\(name)' has type '\(l.type)', which srtool does not support")
        }
    }

    /// A 2-D size from Caffe's repeated field (one value for both axes, or two) or its
    /// `_h`/`_w` forms, which win when given.
    static func pair(_ values: [UInt32], h: UInt32?, w: UInt32?, default d: Int?, what: String, layer: String) throws -> [Int] {
        if h != nil || w != nil {
            guard let h, let w else { throw SRError.malformed("layer '\(layer)': \(what)_h and \(what)_w must be given together") }
            return [Int(h), Int(w)]
        }
        switch values.count {
        case 0:
            guard let d else { throw SRError.malformed("layer '\(layer)': \(what) is not given") }
            return [d, d]
        case 1: return [Int(values[0]), Int(values[0])]
        case 2: return [Int(values[0]), Int(values[1])]
        default: throw SRError.unsupported("layer '\(layer)': \(values.count) values for \(what); srtool supports 2-D layers")
        }
    }
}
