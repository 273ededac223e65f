import SRCore

/// Concatenations that grow one another, as in a dense block, where each layer reads the
/// block's input and every earlier layer's output: `Concat(x0, f1, …, fk)` (torchvision's
/// DenseNet) or `Concat(previous, fk)` (Keras's and Caffe's). Along an axis whose leading
/// dims are all 1 (batch 1, channels) each such concat's output is the start of the next
/// one's, so every member of a chain is a view of one buffer sized for the chain's last,
/// and each input is copied into it once, by the first member that holds it, instead of by
/// every member (DenseNet-121 copied O(L²) planes per block: 8 % of its forward pass).
///
/// A member's output shares memory with the others' (`Executor.isFreshOutput` is false for
/// it), so nothing writes over it; inputs already copied are read by at least two members
/// and so are never overwritten either.
struct ConcatChains {
    /// One concat of a chain: the chain's index, whether it is the chain's first, how many of
    /// its inputs (its last ones) are new to the chain, and the output of the chain's last
    /// member, whose size the buffer takes.
    struct Member {
        let chain: Int
        let first: Bool
        let newInputs: Int
        let last: String
    }

    /// Chain members by node name; a concat that extends no other and that none extends is
    /// not in it.
    let members: [String: Member]

    init(_ graph: Graph) {
        // Each chain's concats in graph order, with the inputs the last one concatenates
        // (its leaves: a progressive member's first input replaced by its predecessor's
        // leaves).
        var chains: [(axis: Int, nodes: [Node], newInputs: [Int], leaves: [String])] = []
        var chainOfOutput: [String: Int] = [:], chainOfFirstLeaf: [String: Int] = [:]
        for node in graph.nodes {
            guard case .concat(let axis) = node.op, node.outputs.count == 1, let head = node.inputs.first else { continue }
            var extended = false
            // Progressive: the first input is the output of a chain's last member.
            if node.inputs.count > 1, let c = chainOfOutput[head], chains[c].axis == axis,
               chains[c].nodes.last?.output == head {
                chains[c].leaves += node.inputs.dropFirst()
                chains[c].nodes.append(node)
                chains[c].newInputs.append(node.inputs.count - 1)
                extended = true
                chainOfOutput[node.output] = c
            } else if let c = chainOfFirstLeaf[head], chains[c].axis == axis, node.inputs.count > chains[c].leaves.count,
                      node.inputs.starts(with: chains[c].leaves) {
                // Flat: the inputs start with the chain's leaves.
                chains[c].newInputs.append(node.inputs.count - chains[c].leaves.count)
                chains[c].leaves = node.inputs
                chains[c].nodes.append(node)
                extended = true
                chainOfOutput[node.output] = c
            }
            if !extended {
                chains.append((axis, [node], [node.inputs.count], node.inputs))
                chainOfOutput[node.output] = chains.count - 1
                chainOfFirstLeaf[head] = chains.count - 1
            }
        }
        var members: [String: Member] = [:]
        for (c, chain) in chains.enumerated() where chain.nodes.count > 1 {
            guard let last = chain.nodes.last?.output else { continue }
            for (i, node) in chain.nodes.enumerated() {
                members[node.name] = Member(chain: c, first: i == 0, newInputs: chain.newInputs[i], last: last)
            }
        }
        self.members = members
    }

    /// One forward pass's buffers: each chain's memory and how many of its floats are filled.
    struct Pass {
        private var buffers: [Int: (storage: TensorStorage, filled: Int)] = [:]

        /// The output of member `m`, a view of its chain's buffer after its new inputs (the
        /// last `m.newInputs` of `ins`) are copied in; nil when the concat must be made as
        /// usual: dims before `axis` not all 1 (a batch), or the chain's first member was
        /// not made here. `lastShape` is the shape of the chain's last output. The pass lets go
        /// of the buffer at the chain's last member; the views keep it alive.
        mutating func output(of m: Member, named output: String, axis: Int, ins: [Tensor], outShape: [Int],
                             lastShape: [Int]) -> Tensor? {
            guard axis >= 0, axis < outShape.count, outShape.prefix(axis).allSatisfy({ $0 == 1 }),
                  lastShape.count == outShape.count, ins.count >= m.newInputs else { return nil }
            if m.first { buffers[m.chain] = (TensorStorage(uninitializedCount: lastShape.reduce(1, *)), 0) }
            // Whatever goes wrong leaves the chain without a buffer, so its later members are
            // made as usual too.
            guard var buffer = buffers.removeValue(forKey: m.chain) else { return nil }
            for t in ins.suffix(m.newInputs) {
                guard buffer.filled + t.count <= buffer.storage.count else { return nil }
                (buffer.storage.base + buffer.filled).update(from: t.pointer, count: t.count)
                buffer.filled += t.count
            }
            guard buffer.filled == outShape.reduce(1, *), let view = try? Tensor(shape: outShape, storage: buffer.storage)
            else { return nil }
            if output != m.last { buffers[m.chain] = buffer }
            return view
        }
    }
}
