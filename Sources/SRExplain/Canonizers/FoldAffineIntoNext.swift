import SRCore

extension Canonizer {
    /// Canonizer for the other order: a batch norm or per-channel `scale` whose output only a
    /// conv without padding or a linear layer reads (pre-activation blocks, a normalised
    /// classifier input) folds into that layer's input side:
    /// `W'[o, c, …] = W[o, c, …]·s_c`, `b'_o = b_o + Σ_{c, …} W[o, c, …]·t_c` for `y = s·x + t`.
    /// With padding the fold would be wrong at the border (the conv pads `s·x + t` with zeros,
    /// not `x`), so a padded conv keeps its norm. Run after `foldAffine`, which takes the
    /// norms that follow a layer.
    public static func foldAffineIntoNext(_ graph: Graph) throws -> Graph {
        var g = graph
        var readers: [String: [Int]] = [:]
        for (k, n) in g.nodes.enumerated() { for i in n.inputs { readers[i, default: []].append(k) } }
        let outputs = Set(g.outputs)
        let shapes = try g.inferShapes()
        var removed = Set<Int>()
        for (i, norm) in g.nodes.enumerated() {
            guard let (scale, shift, axis) = try affine(norm, g), norm.outputs.count == 1, !outputs.contains(norm.output),
                  let users = readers[norm.output], users.count == 1, let rank = shapes[norm.output]?.count else { continue }
            let p = users[0]
            var layer = g.nodes[p]
            guard layer.inputs.first == norm.output, let w = g.weight(layer, "weight") else { continue }
            let out = w.shape[0], per = w.count / out
            var inChannels = 0, perChannel = 1, groupSize = out
            switch layer.op {
            case .conv2d(let a):
                guard axis == 1, a.pads.allSatisfy({ $0 == 0 }), w.rank == 4 else { continue }
                (inChannels, perChannel, groupSize) = (w.shape[1], w.shape[2] * w.shape[3], out / max(a.group, 1))
            case .linear:
                guard axis == rank - 1, w.rank == 2 else { continue }
                (inChannels, perChannel) = (w.shape[1], 1)
            default:
                continue
            }
            let channels = inChannels * (out / groupSize)
            guard scale.count == 1 || scale.count == channels, shift.count == 1 || shift.count == channels else { continue }
            let nw = Tensor(uninitialized: w.shape), nb = Tensor(uninitialized: [out])
            let b = g.weight(layer, "bias")
            for o in 0..<out {
                var bias = b?.pointer[o] ?? 0
                for c in 0..<inChannels {
                    let channel = (o / groupSize) * inChannels + c
                    let (s, t) = (scale.count == 1 ? scale[0] : scale[channel], shift.count == 1 ? shift[0] : shift[channel])
                    for k in 0..<perChannel {
                        let at = o * per + c * perChannel + k
                        nw.pointer[at] = w.pointer[at] * s
                        bias += w.pointer[at] * t
                    }
                }
                nb.pointer[o] = bias
            }
            let wName = "\(layer.name).prefolded.weight", bName = "\(layer.name).prefolded.bias"
            g.weights[wName] = nw
            g.weights[bName] = nb
            layer.params["weight"] = wName
            layer.params["bias"] = bName
            layer.inputs[0] = norm.inputs[0]
            g.nodes[p] = layer
            removed.insert(i)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        let used = Set(g.nodes.flatMap { $0.params.values })
        g.weights = g.weights.filter { used.contains($0.key) }
        return g
    }
}
