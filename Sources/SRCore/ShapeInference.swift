extension Op {
    /// Output shape of the op for the given input shapes and parameter shapes; checks
    /// that the parameters fit. `node` names the layer in errors.
    public func outputShape(inputs: [[Int]], params: [String: [Int]], node: String) throws -> [Int] {
        func fail(_ why: String) -> SRError { .malformed("node '\(node)' (\(name)): \(why)") }
        guard let x = inputs.first else { throw fail("has no input") }
        if let arity = inputArity, inputs.count != arity {
            throw fail("takes \(arity) input(s), got \(inputs.count)")
        }
        if inputArity == nil && inputs.count < 1 { throw fail("needs at least one input") }
        func needRank(_ r: Int) throws {
            guard x.count == r else { throw fail("expects a rank-\(r) input, got shape \(x)") }
        }
        func perChannel(_ role: String, _ c: Int, allowScalar: Bool) throws {
            guard let p = params[role] else { return }
            let n = Shape.elementCount(p) ?? -1
            guard n == c || (allowScalar && n == 1) else {
                throw fail("parameter '\(role)' has shape \(p), expected \(c) value(s)")
            }
        }
        switch self {
        case .conv2d(let a):
            try needRank(4)
            guard a.kernel.count == 2, a.stride.count == 2, a.pads.count == 4, a.dilation.count == 2,
                  a.group >= 1, a.kernel.allSatisfy({ $0 >= 1 }), a.stride.allSatisfy({ $0 >= 1 }),
                  a.dilation.allSatisfy({ $0 >= 1 }), a.pads.allSatisfy({ $0 >= 0 }) else {
                throw fail("invalid attributes \(a)")
            }
            guard let w = params["weight"], w.count == 4 else { throw fail("weight must be OIHW") }
            guard x[1] % a.group == 0, w[0] % a.group == 0, w[1] == x[1] / a.group else {
                throw fail("weight \(w) does not fit input \(x) with group \(a.group)")
            }
            guard w[2] == a.kernel[0], w[3] == a.kernel[1] else {
                throw fail("weight \(w) does not match kernel \(a.kernel)")
            }
            try perChannel("bias", w[0], allowScalar: false)
            guard let h = Shape.convOutput(x[2], kernel: a.kernel[0], stride: a.stride[0],
                                           padBegin: a.pads[0], padEnd: a.pads[2], dilation: a.dilation[0]),
                  let ww = Shape.convOutput(x[3], kernel: a.kernel[1], stride: a.stride[1],
                                            padBegin: a.pads[1], padEnd: a.pads[3], dilation: a.dilation[1]),
                  h >= 1, ww >= 1 else {
                throw fail("kernel \(a.kernel) does not fit input \(x)")
            }
            return [x[0], w[0], h, ww]
        case .convTranspose2d(let t):
            let a = t.conv
            try needRank(4)
            guard a.kernel.count == 2, a.stride.count == 2, a.pads.count == 4, a.dilation.count == 2, t.outputPadding.count == 2,
                  a.group >= 1, (a.kernel + a.stride + a.dilation).allSatisfy({ $0 >= 1 && $0 < 1 << 20 }),
                  a.pads.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }),
                  (0..<2).allSatisfy({ t.outputPadding[$0] >= 0 && t.outputPadding[$0] < Swift.max(a.stride[$0], a.dilation[$0]) }) else {
                throw fail("invalid attributes \(t)")
            }
            guard let w = params["weight"], w.count == 4, w[0] == x[1], x[1] % a.group == 0, w[2] == a.kernel[0], w[3] == a.kernel[1] else {
                throw fail("weight \(params["weight"] ?? []) does not fit input \(x) (want [\(x[1]), C_out/\(a.group), \(a.kernel[0]), \(a.kernel[1])])")
            }
            guard x[2] < 1 << 20, x[3] < 1 << 20 else { throw fail("input \(x) is too large") }
            let outC = w[1] * a.group
            try perChannel("bias", outC, allowScalar: false)
            // stride·(in − 1) + output_padding + dilation·(kernel − 1) + 1 − pads (all below 2^20: no overflow)
            var size = [0, 0]
            for i in 0..<2 {
                let span: Int = a.stride[i] * (x[2 + i] - 1) + t.outputPadding[i]
                let reach: Int = a.dilation[i] * (a.kernel[i] - 1) + 1
                size[i] = span + reach - a.pads[i] - a.pads[i + 2]
            }
            guard size.allSatisfy({ $0 >= 1 }) else { throw fail("pads \(a.pads) leave no output for input \(x)") }
            return [x[0], outC, size[0], size[1]]
        case .linear:
            guard x.count >= 2, let inFeatures = x.last else { throw fail("expects [N, …, in], got shape \(x)") }
            guard let w = params["weight"], w.count == 2, w[1] == inFeatures else {
                throw fail("weight \(params["weight"] ?? []) does not fit input \(x) (want [out, \(inFeatures)])")
            }
            try perChannel("bias", w[0], allowScalar: false)
            return x.dropLast() + [w[0]]
        case .maxPool2d(let a), .avgPool2d(let a):
            try needRank(4)
            guard a.kernel.count == 2, a.stride.count == 2, a.pads.count == 4,
                  a.kernel.allSatisfy({ $0 >= 1 }), a.stride.allSatisfy({ $0 >= 1 }),
                  a.pads.allSatisfy({ $0 >= 0 }), a.pads[0] < a.kernel[0], a.pads[1] < a.kernel[1],
                  a.pads[2] < a.kernel[0], a.pads[3] < a.kernel[1] else {
                throw fail("invalid attributes \(a)")
            }
            guard let h = Shape.poolOutput(x[2], kernel: a.kernel[0], stride: a.stride[0], padBegin: a.pads[0],
                                           padEnd: a.pads[2], ceil: a.ceilMode),
                  let w = Shape.poolOutput(x[3], kernel: a.kernel[1], stride: a.stride[1], padBegin: a.pads[1],
                                           padEnd: a.pads[3], ceil: a.ceilMode),
                  h >= 1, w >= 1 else {
                throw fail("window \(a.kernel) does not fit input \(x)")
            }
            return [x[0], x[1], h, w]
        case .globalAvgPool, .globalMaxPool:
            try needRank(4)
            return [x[0], x[1], 1, 1]
        case .lrn(let a):
            try needRank(4)
            guard a.size >= 1, a.size < 1 << 31 else { throw fail("size \(a.size) must be in 1..<2^31") }
            return x
        case .batchNorm:
            guard x.count >= 2 else { throw fail("needs a channel axis, got \(x)") }
            for role in ["mean", "variance", "scale", "bias"] { try perChannel(role, x[1], allowScalar: false) }
            return x
        case .scale(let axis):
            guard axis >= 1, axis < x.count else { throw fail("axis \(axis) out of range for \(x)") }
            try perChannel("weight", x[axis], allowScalar: true)
            try perChannel("bias", x[axis], allowScalar: true)
            return x
        case .prelu:
            guard x.count >= 2 else { throw fail("needs a channel axis, got \(x)") }
            try perChannel("slope", x[1], allowScalar: true)
            return x
        case .add, .mul, .max:
            guard let out = Shape.broadcast(inputs), out.first == x.first else {
                throw fail("inputs of shapes \(inputs) do not broadcast")
            }
            return out
        case .concat(let axis):
            guard axis >= 0, axis < x.count else { throw fail("axis \(axis) out of range for \(x)") }
            var out = x
            for s in inputs.dropFirst() {
                guard s.count == x.count,
                      s.indices.allSatisfy({ $0 == axis || s[$0] == x[$0] }) else {
                    throw fail("cannot concatenate shapes \(inputs) along axis \(axis)")
                }
                out[axis] += s[axis]
            }
            return out
        case .flatten:
            guard x.count >= 1, let n = Shape.elementCount(Array(x.dropFirst())) else { throw fail("bad input \(x)") }
            return [x[0], n]
        case .reshape(let shape):
            guard Shape.elementCount(shape) == Shape.elementCount(Array(x.dropFirst())) else {
                throw fail("cannot reshape \(x) to [N] + \(shape)")
            }
            return [x[0]] + shape
        case .softmax(let axis):
            guard axis >= 1, axis < x.count else { throw fail("axis \(axis) out of range for \(x)") }
            return x
        case .pad(let pads, _):
            try needRank(4)
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw fail("invalid pads \(pads)") }
            return [x[0], x[1], x[2] + pads[0] + pads[2], x[3] + pads[1] + pads[3]]
        case .relu, .clip, .sigmoid, .tanh, .power, .thresholdedRelu, .identity, .unary:
            return x
        case .transpose(let perm):
            guard perm.count == x.count, perm.first == 0, perm.sorted() == Array(0..<x.count) else {
                throw fail("perm \(perm) is not a permutation of \(x.count) axes keeping the batch axis first")
            }
            return perm.map { x[$0] }
        case .reduce(let a):
            guard !a.axes.isEmpty, a.axes == Array(Set(a.axes)).sorted(), a.axes.allSatisfy({ $0 >= 1 && $0 < x.count }) else {
                throw fail("axes \(a.axes) must be distinct non-batch axes of \(x)")
            }
            if a.keepDims { return x.indices.map { a.axes.contains($0) ? 1 : x[$0] } }
            return x.indices.filter { !a.axes.contains($0) }.map { x[$0] }
        case .slice(let axis, let start, let end, let step):
            guard axis >= 1, axis < x.count, step >= 1, start >= 0, start < end, end <= x[axis] else {
                throw fail("slice \(start)..<\(end) step \(step) of axis \(axis) does not fit \(x)")
            }
            var out = x
            out[axis] = (end - start - 1) / step + 1  // no overflow for any step from a file
            return out
        case .matmul:
            let y = inputs[1]
            guard x.count >= 3, y.count >= 3, x[x.count - 1] == y[y.count - 2],
                  let lead = Shape.broadcast([Array(x.dropLast(2)), Array(y.dropLast(2))]), lead.first == x.first else {
                throw fail("cannot multiply \(x) by \(y) (want […, M, K]·[…, K, N] with the batch axis first)")
            }
            return lead + [x[x.count - 2], y[y.count - 1]]
        case .resize(let a):
            try needRank(4)
            guard a.size.count == 2, a.size.allSatisfy({ $0 >= 1 && $0 < 1 << 24 }), a.scales.count == 2,
                  a.scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw fail("invalid size \(a.size) or scales \(a.scales)")
            }
            return [x[0], x[1]] + a.size
        case .batchConstant:
            guard let v = params["value"], v.first == 1 else { throw fail("value of shape \(params["value"] ?? []) must be [1, …]") }
            return [x[0]] + v.dropFirst()
        case .layerNorm(let axis, let epsilon):
            guard axis >= 1, axis < x.count else { throw fail("axis \(axis) out of range for \(x)") }
            guard epsilon >= 0, epsilon.isFinite else { throw fail("epsilon \(epsilon) must be finite and ≥ 0") }
            let normalized = Array(x[axis...])
            for role in ["scale", "bias"] {
                guard let p = params[role] else { continue }
                guard Shape.elementCount(p) == Shape.elementCount(normalized),
                      p.filter({ $0 != 1 }) == normalized.filter({ $0 != 1 }) else {
                    throw fail("parameter '\(role)' has shape \(p), expected \(normalized)")
                }
            }
            return x
        }
    }
}

extension Graph {
    /// Shapes of every activation tensor for the declared input shapes, with the batch
    /// size replaced by `batch` when given. Also checks that every node's inputs exist
    /// before it (topological order) and that its parameters fit.
    public func inferShapes(batch: Int? = nil) throws -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for input in inputs {
            var s = input.shape
            if let batch, !s.isEmpty { s[0] = batch }
            shapes[input.name] = s
        }
        for node in nodes {
            let ins = try node.inputs.map { name -> [Int] in
                guard let s = shapes[name] else {
                    throw SRError.malformed("node '\(node.name)' (\(node.op.name)): input '\(name)' is not produced by any earlier node")
                }
                return s
            }
            var params: [String: [Int]] = [:]
            for (role, w) in node.params {
                guard let t = weights[w] else {
                    throw SRError.malformed("node '\(node.name)' (\(node.op.name)): missing weight '\(w)' for '\(role)'")
                }
                params[role] = t.shape
            }
            let out = try node.op.outputShape(inputs: ins, params: params, node: node.name)
            for o in node.outputs { shapes[o] = out }
        }
        return shapes
    }
}
