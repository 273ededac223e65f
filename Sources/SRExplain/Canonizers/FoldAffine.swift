import SRCore

/// Canonizer: folds a batch norm or per-channel `scale` into the conv / linear layer whose
/// output only it reads (zennit's `SequentialMergeBatchNorm`):
/// `W' = W·s_c`, `b' = (b − mean)·s_c + β` with `s_c = γ_c/√(var_c + ε)` (for `scale`:
/// `s_c = w_c`, `b' = b·w_c + bias_c`). The folded layer takes the norm's output name, so
/// per-layer relevance keeps the names users see. A transpose between the two that brings
/// the layer's feature axis to the scaled axis is looked through: ConvNeXt's LayerScale
/// (linear on `[N, H, W, C]`, permute to `[N, C, H, W]`, `γ_c·x`) merges into the linear,
/// and the transpose then outputs the scale's tensor.
public enum Canonizer {
    public static func foldAffine(_ graph: Graph) throws -> Graph {
        var g = graph
        var readers: [String: Int] = [:]
        for n in g.nodes { for i in n.inputs { readers[i, default: 0] += 1 } }
        for o in g.outputs { readers[o, default: 0] += 1 }
        let shapes = try g.inferShapes()
        var i = 0
        while i < g.nodes.count {
            let norm = g.nodes[i]
            guard let (scale, shift, normAxis) = try affine(norm, g),
                  var p = g.nodes.firstIndex(where: { $0.outputs == [norm.inputs[0]] }),
                  readers[norm.inputs[0]] == 1 else {
                i += 1
                continue
            }
            // Through one transpose: the scaled axis is the layer's axis perm[normAxis] (a
            // transpose of 1 × 1 maps arrives as a reshape that moves only the features).
            var axis = normAxis, transpose: Int?
            if let moved = movedAxis(g.nodes[p], to: normAxis, shapes),
               let q = g.nodes.firstIndex(where: { $0.outputs == [g.nodes[p].inputs[0]] }), readers[g.nodes[p].inputs[0]] == 1 {
                (transpose, axis, p) = (p, moved, q)
            }
            guard case let layerOp = g.nodes[p].op, isLinear(layerOp),
                  axis == featureAxis(layerOp, rank: shapes[g.nodes[p].outputs[0]]?.count ?? 0),
                  let w = g.weight(g.nodes[p], "weight"), w.shape[0] == scale.count || scale.count == 1 else {
                i += 1
                continue
            }
            var layer = g.nodes[p]
            let out = w.shape[0]
            let per = w.count / out
            let nw = Tensor(uninitialized: w.shape)
            let nb = Tensor(uninitialized: [out])
            let b = g.weight(layer, "bias")
            for o in 0..<out {
                let s = scale.count == 1 ? scale[0] : scale[o]
                for k in 0..<per { nw.pointer[o * per + k] = w.pointer[o * per + k] * s }
                nb.pointer[o] = (b?.pointer[o] ?? 0) * s + (shift.count == 1 ? shift[0] : shift[o])
            }
            let wName = "\(layer.name).folded.weight", bName = "\(layer.name).folded.bias"
            g.weights[wName] = nw
            g.weights[bName] = nb
            layer.params["weight"] = wName
            layer.params["bias"] = bName
            if let transpose {
                g.nodes[transpose].outputs = norm.outputs
            } else {
                layer.outputs = norm.outputs
            }
            g.nodes[p] = layer
            g.nodes.remove(at: i)
        }
        let used = Set(g.nodes.flatMap { $0.params.values })
        g.weights = g.weights.filter { used.contains($0.key) }
        return g
    }

    /// The input axis a transpose (or a reshape that only moves the one non-unit axis)
    /// brings to output axis `axis`.
    private static func movedAxis(_ node: Node, to axis: Int, _ shapes: [String: [Int]]) -> Int? {
        switch node.op {
        case .transpose(let perm): return axis < perm.count ? perm[axis] : nil
        case .reshape:
            guard let sin = shapes[node.inputs[0]], let sout = shapes[node.output], sin.count == sout.count, sin.count > 2,
                  axis < sout.count, sout[axis] == sin[sin.count - 1], sin[0] == sout[0],
                  sin.dropFirst().dropLast().allSatisfy({ $0 == 1 }),
                  sout.indices.allSatisfy({ $0 == 0 || $0 == axis || sout[$0] == 1 }) else { return nil }
            return sin.count - 1
        default: return nil
        }
    }

    /// The axis of a conv's channels (1) or a linear layer's features (the last).
    private static func featureAxis(_ op: Op, rank: Int) -> Int {
        if case .linear = op { return rank - 1 }
        return 1
    }

    private static func isLinear(_ op: Op) -> Bool {
        switch op {
        case .conv2d, .linear: return true
        case .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn, .batchNorm, .scale, .add, .convTranspose2d,
             .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .power, .thresholdedRelu, .clip, .pad, .identity,
             .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            return false
        }
    }

    /// `(s, t, axis)` with `norm(x) = s·x + t` along `axis`, for batch norm and scale nodes.
    static func affine(_ node: Node, _ g: Graph) throws -> ([Float], [Float], Int)? {
        switch node.op {
        case .batchNorm(let eps):
            guard let mean = g.weight(node, "mean")?.values, let variance = g.weight(node, "variance")?.values else { return nil }
            let gamma = g.weight(node, "scale")?.values, beta = g.weight(node, "bias")?.values
            let s = variance.indices.map { (gamma?[$0] ?? 1) / (variance[$0] + eps).squareRoot() }
            let t = mean.indices.map { (beta?[$0] ?? 0) - mean[$0] * s[$0] }
            return (s, t, 1)
        case .scale(let axis):
            guard let w = g.weight(node, "weight")?.values else { return nil }
            return (w, g.weight(node, "bias")?.values ?? [0], axis)
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn, .add, .mul,
             .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .power, .thresholdedRelu, .clip, .pad, .identity,
             .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            return nil
        }
    }
}
