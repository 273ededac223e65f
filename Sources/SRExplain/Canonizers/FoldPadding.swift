import SRCore

extension Canonizer {
    /// Canonizer: a zero `pad` read only by a convolution becomes that convolution's own
    /// padding (Keras writes `ZeroPadding2D` + a `valid` conv where PyTorch writes one conv
    /// with `padding`). The forward pass is the same; LRP's rules then see the padding as
    /// the conv's, so the flat and w² rules, whose modified input is all ones, spread no
    /// relevance onto the padded border (where the pad's gradient would drop it).
    public static func foldPadding(_ graph: Graph) -> Graph {
        var g = graph
        var readers: [String: Int] = [:]
        for n in g.nodes { for i in n.inputs { readers[i, default: 0] += 1 } }
        for o in g.outputs { readers[o, default: 0] += 1 }
        var i = 0
        while i < g.nodes.count {
            guard case .conv2d(var a) = g.nodes[i].op, let source = g.nodes[i].inputs.first,
                  let p = g.nodes.firstIndex(where: { $0.outputs == [source] }),
                  case .pad(let pads, let value) = g.nodes[p].op, value == 0, pads.count == 4, pads.allSatisfy({ $0 >= 0 }),
                  readers[source] == 1, !g.outputs.contains(source) else {
                i += 1
                continue
            }
            a.pads = zip(a.pads, pads).map { $0 + $1 }
            g.nodes[i].op = .conv2d(a)
            g.nodes[i].inputs[0] = g.nodes[p].inputs[0]
            g.nodes.remove(at: p)
            if p < i { i -= 1 }
            i += 1
        }
        return g
    }
}
