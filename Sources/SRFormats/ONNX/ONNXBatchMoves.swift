import SRCore

/// What transformer exports need beyond the CNN op table: attention's `q, k, v` taken apart
/// through a transpose that moves the batch axis (`[N, T, 3, H, D] → [3, N, H, T, D]`, then
/// Split or Gather on the new first axis), constants that vary along several axes or that
/// are concatenated with activations (class token, position embedding), and Gather of one
/// token. srtool's IR keeps the batch axis first, so a batch-moving transpose is never
/// emitted: each slice its reader takes becomes `slice` + `reshape` + `transpose` of the
/// transpose's input, with the batch axis first throughout.
extension ONNXGraphBuilder {
    /// Records a transpose that moves the batch axis instead of emitting it.
    func deferBatchMove(_ x: String, perm: [Int], output: String) {
        batchMoves[output] = (x, perm)
    }

    /// Index `k` of a batch move's first axis, with that axis dropped: the slice of the
    /// original input along `perm[0]`, reshaped without that axis, permuted by what is left
    /// of `perm` (the batch axis first).
    func takeFromBatchMove(_ moved: String, index k: Int, name: String, output: String) throws {
        guard let (x, perm) = batchMoves[resolve(moved)], let s = shape(x) else {
            throw SRError.internalError("node '\(name)': no pending transpose for '\(moved)'")
        }
        let axis = perm[0]
        guard k >= 0, k < s[axis] else {
            throw SRError.malformed("node '\(name)': index \(k) out of range for axis \(axis) of \(s)")
        }
        let rest = s.indices.filter { $0 != axis }
        let remaining = perm.dropFirst().compactMap { rest.firstIndex(of: $0) }
        guard remaining.first == 0 else {
            throw SRError.unsupported("node '\(name)': the slice of a transpose with perm \(perm) does not keep the batch axis first")
        }
        let identity = remaining == Array(0..<remaining.count)
        let sliced = freshTensor(output), dropped = identity ? output : freshTensor(output)
        try emit(Node(name: name, op: .slice(axis: axis, start: k, end: k + 1, step: 1), inputs: [x], outputs: [sliced]))
        try emit(Node(name: name, op: .reshape(shape: rest.dropFirst().map { s[$0] }), inputs: [sliced], outputs: [dropped]))
        if !identity {
            try emit(Node(name: name, op: .transpose(perm: remaining), inputs: [dropped], outputs: [output]))
        }
    }

    /// Split of a batch move along its first axis into single slices (`unbind`): each output
    /// read is taken as above, under the name its Squeeze (of axis 0) will ask for.
    func splitBatchMove(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, moved: String) throws {
        guard let (x, perm) = batchMoves[resolve(moved)], let s = shape(x) else { return }
        var axis = try a.int("axis", 0)
        if axis < 0 { axis += perm.count }
        var sizes = try a.ints("split")
        if sizes == nil, proto.input.count > 1, !proto.input[1].isEmpty, let c = constant(proto.input[1]) {
            sizes = try c.intValues("node '\(name)' split")
        }
        guard axis == 0, (sizes ?? [Int](repeating: 1, count: proto.output.count)).allSatisfy({ $0 == 1 }),
              proto.output.count == s[perm[0]] else {
            throw SRError.unsupported("node '\(name)' (Split): only single slices of the first axis of a transpose that moves the batch axis are supported")
        }
        for (k, o) in proto.output.enumerated() where !o.isEmpty && isConsumed(o) {
            let taken = freshTensor(o)
            try takeFromBatchMove(moved, index: k, name: name, output: taken)
            squeezedFirstAxis[o] = taken
        }
    }

    /// A constant operand as an activation: `batchConstant` of its value with leading axes
    /// of size 1 up to `rank` (one sample; a leading axis equal to the declared batch must
    /// hold the same values in every sample).
    func batchConstant(_ c: ONNXConstant, rank: Int, like activation: String, name: String) throws -> String {
        guard let batch = shape(activation)?.first else {
            throw SRError.internalError("node '\(name)': no shape for '\(activation)'")
        }
        let t = try c.floatTensor("node '\(name)' constant")
        guard t.rank <= rank else {
            throw SRError.unsupported("node '\(name)': a constant of shape \(t.shape) has more axes than its activation")
        }
        var dims = [Int](repeating: 1, count: rank - t.rank) + t.shape
        var values = t.values
        if dims[0] != 1 {
            let per = values.count / max(dims[0], 1)
            guard dims[0] == batch, (1..<dims[0]).allSatisfy({ values[($0 * per)..<(($0 + 1) * per)] == values[0..<per] }) else {
                throw SRError.unsupported("node '\(name)': a constant of shape \(t.shape) differs between samples")
            }
            values = Array(values[0..<per])
            dims[0] = 1
        }
        let value = addWeight(try Tensor(shape: dims, values: values), name: "\(name).constant")
        let out = freshTensor("\(name).constant")
        try emit(Node(name: "\(name).constant", op: .batchConstant, inputs: [activation], outputs: [out], params: ["value": value]))
        return out
    }

    /// Gather of constant indices along a non-batch axis of an activation: one index drops
    /// the axis (`x[:, 0]`, the class token), a run of consecutive indices is a slice.
    func lowerGather(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, input x: String,
                     shape s: [Int], output out: String) throws {
        guard proto.input.count > 1, let c = constant(proto.input[1]) else {
            throw SRError.unsupported("node '\(name)' (Gather): the indices must be constant")
        }
        var axis = try a.int("axis", 0)
        if axis < 0 { axis += s.count }
        guard axis >= 1, axis < s.count else {
            throw SRError.unsupported("node '\(name)' (Gather): axis \(axis) of \(s) (only non-batch axes are supported)")
        }
        let indices = try c.intValues("node '\(name)' indices").map { $0 < 0 ? $0 + s[axis] : $0 }
        guard let first = indices.first, indices.allSatisfy({ $0 >= 0 && $0 < s[axis] }),
              indices == Array(first..<(first + indices.count)) else {
            throw SRError.unsupported("node '\(name)' (Gather): indices \(indices) are not a run of consecutive indices of axis \(axis) of \(s)")
        }
        let scalar = c.shape.isEmpty
        let sliced = scalar ? freshTensor(out) : out
        try emit(Node(name: name, op: .slice(axis: axis, start: first, end: first + indices.count, step: 1), inputs: [x], outputs: [sliced]))
        if scalar {
            let kept = s.indices.filter { $0 != 0 && $0 != axis }.map { s[$0] }
            try emit(Node(name: name, op: .reshape(shape: kept), inputs: [sliced], outputs: [out]))
        }
    }
}
