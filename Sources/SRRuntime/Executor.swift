import Foundation
import SRCore

/// Every activation of one forward pass, by tensor name (graph inputs included).
public struct Activations: @unchecked Sendable {
    public var tensors: [String: Tensor]
    public init(tensors: [String: Tensor]) { self.tensors = tensors }
    public subscript(_ name: String) -> Tensor? { tensors[name] }
}

/// Runs a graph on the CPU. Keeps every activation the backward engine or `--dump` may
/// need, or (with `keepAll: false`) frees each one after its last reader.
public final class Executor {
    /// The graph it runs; with `packWeights` the weights of the nodes in `packedLinear` hold
    /// `Kernels.packedLinearWeight`'s layout under their own shape, readable by no other kernel.
    public let graph: Graph
    /// The linear layers whose weights it repacked (`packWeights`), by node name.
    let packedLinear: Set<String>
    /// Those read only by a transpose from channels last to first ([0, 3, 1, 2]), by name →
    /// the transpose's: in forward-only runs the layer writes the transpose's output.
    let channelsFirstLinear: [String: String]
    /// Called after each node with its wall-clock seconds (`run --profile`).
    public var observer: ((Node, Double) -> Void)?
    private let shapesByBatch: NSCache<NSNumber, ShapeTable> = NSCache()
    private let scratch = Scratch()
    /// How many node inputs read each tensor.
    private let readers: [String: Int]
    /// Convs whose only reader is a ReLU, a Clip or an element-wise function (HardSwish,
    /// SiLU, …): with `fuse` it runs inside the conv.
    private let fusedActivation: [String: FusedActivation]
    /// The same for batch norms, per-channel affines and the linear layers it repacked, in
    /// forward-only runs.
    let fusedIntoAffine: [String: FusedActivation]
    /// Two-input adds whose sum a conv takes itself in forward-only runs (a skip connection):
    /// the conv, by name, → the add's other input and the activation that reads only the
    /// add's output (run inside the conv too).
    private let fusedResidual: [String: (other: String, activation: FusedActivation?)]
    /// The adds and activations those convs compute, by name → the tensor already holding
    /// their result (the conv's output for an add, the add's for its activation).
    let doneByResidual: [String: String]
    /// Products x ⊙ gate (gate `[N, C, 1, 1]`: a squeeze-and-excitation block's scaling of x
    /// `[N, C, H, W]`) read only by a 1×1 convolution, by the product's name → the index of
    /// x among its inputs. In forward-only runs the product is not written: the conv scales
    /// its weights by the gate instead where its 1×1 kernel runs (`pointwiseConv2d(gate:)`;
    /// EfficientNet-B0's gates had written 1.6 MB at 112×112, 0.17 ms on one thread).
    let gatedProducts: [String: Int]
    /// Concats that are each a prefix of the next (a dense block's): at batch 1 views of one
    /// buffer per chain, each input copied into it once.
    let concatChains: ConcatChains
    /// The node producing each tensor (graph inputs have none).
    private let producers: [String: Node]
    /// Memory and MACs a run may use; checked before it allocates.
    public let budget: RunBudget
    /// The cores its kernels use (bound around each call: `Parallel.using`).
    public let threads: Int
    /// The Winograd tile its 3×3 convolutions may use: F(4×4, 3×3) for a forward pass whose
    /// outputs are the result; F(2×2, 3×3) under an explanation, where the extra rounding
    /// would move ReLU and max-pool switches that sit within float32 noise of a tie.
    public let winograd: WinogradTile

    /// `packWeights`, for a forward-only caller that hands over its graph (`consume`): each
    /// linear layer's weight that nothing else holds is replaced by its packed form, so
    /// `Kernels.packedLinear` runs it and the original is freed. A weight the caller still
    /// holds, or shared by two layers, keeps its layout and OpenBLAS: repacking it would keep
    /// two copies.
    public init(graph: consuming Graph, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                budget: RunBudget = RunBudget(), winograd: WinogradTile = .f4x4, packWeights: Bool = false) throws {
        try graph.validate()
        let shapesOne = try graph.inferShapes(batch: 1)
        let packed = packWeights ? try Executor.packLinearWeights(&graph, shapes: shapesOne) : []
        packedLinear = packed
        self.graph = graph
        let batchOne = ShapeTable(graph: self.graph, shapes: shapesOne)
        self.budget = budget
        var readers: [String: Int] = [:]
        for node in graph.nodes { for i in node.inputs { readers[i, default: 0] += 1 } }
        for o in graph.outputs { readers[o, default: 0] += 1 }
        self.readers = readers
        var producers: [String: Node] = [:]
        for node in graph.nodes { for o in node.outputs { producers[o] = node } }
        self.producers = producers
        var fused: [String: FusedActivation] = [:], intoAffine: [String: FusedActivation] = [:]
        for node in graph.nodes {
            let activation: FusedActivation
            switch node.op {
            case .relu(let slope) where slope >= 0: activation = .relu(slope: slope)
            case .clip(let lo, let hi): activation = .clip(min: lo, max: hi)
            case .unary(let f): activation = .unary(f)
            default: continue
            }
            guard readers[node.inputs[0]] == 1, let producer = producers[node.inputs[0]],
                  !graph.outputs.contains(node.inputs[0]) else { continue }
            switch producer.op {
            case .conv2d: fused[producer.name] = activation
            case .batchNorm, .scale: intoAffine[producer.name] = activation
            case .linear where packed.contains(producer.name): intoAffine[producer.name] = activation
            default: continue
            }
        }
        fusedActivation = fused
        fusedIntoAffine = intoAffine
        var channelsFirst: [String: String] = [:]
        for node in graph.nodes {
            guard case .transpose(let perm) = node.op, perm == [0, 3, 1, 2], let producer = producers[node.inputs[0]],
                  packed.contains(producer.name), readers[node.inputs[0]] == 1, !graph.outputs.contains(node.inputs[0])
            else { continue }
            channelsFirst[producer.name] = node.name
        }
        channelsFirstLinear = channelsFirst
        gatedProducts = Executor.gatedProducts(graph, shapes: batchOne.shapes, readers: readers, producers: producers)
        concatChains = ConcatChains(self.graph)
        (fusedResidual, doneByResidual) = Executor.residualFusions(graph, shapes: batchOne.shapes, readers: readers,
                                                                   producers: producers)
        self.threads = max(threads, 1)
        self.winograd = winograd
        shapesByBatch.setObject(batchOne, forKey: NSNumber(value: 1))
        try budget.checkMACs(graph, shapes: batchOne.shapes)
        Parallel.using(self.threads) { Parallel.startWorkers() }
        BLAS.useSingleThreadedKernels()
    }

    /// Repacks the weight of each linear layer that the packed product runs faster: out
    /// features a multiple of its 32-row panels, at least 128 in features (ConvNeXt-Tiny's
    /// 96-feature expansions took 1.12× OpenBLAS's time packed; its layers from 192 up
    /// 0.61–0.97×, ViT-B/16's 0.82–0.90×) and at least 7 tokens an image, one tile's columns
    /// (a classifier's single token is a matrix-vector product, bound by reading the weights
    /// either way, so packing would only cost load time). Only where `graph` holds the only
    /// reference: an owned weight is packed in its own memory; a borrowed one (a mapped
    /// `.srm` or `.caffemodel`) is copied packed and its pages released panel by panel, as
    /// they would otherwise stay resident beside the copy (ViT-B/16's peak 402 → 730 MB), or
    /// stays as it is if its owner cannot release them. Returns the layers' names.
    private static func packLinearWeights(_ graph: inout Graph, shapes: [String: [Int]]) throws -> Set<String> {
        var packed: Set<String> = []
        var users: [String: Int] = [:]
        for node in graph.nodes { for name in node.params.values { users[name, default: 0] += 1 } }
        for node in graph.nodes {
            guard case .linear = node.op, let name = node.params["weight"], users[name] == 1,
                  let shape = graph.weights[name]?.shape, shape.count == 2,
                  shape[0] % Kernels.PackedGEMM.panelRows == 0, shape[1] >= 128,
                  let input = shapes[node.inputs[0]], input.reduce(1, *) / shape[1] >= 7,
                  var storage = graph.weights.removeValue(forKey: name)?.storage else { continue }
            // The dictionary's reference is gone: any other holder makes this false.
            let unique = isKnownUniquelyReferenced(&storage) && (!storage.isBorrowed || storage.canReleasePages)
            let weight = try Tensor(shape: shape, storage: storage)
            guard unique else { graph.weights[name] = weight; continue }
            if storage.isBorrowed {
                graph.weights[name] = Kernels.packedLinearWeight(weight) { storage.releasePages($0) }
            } else {
                Kernels.packLinearWeightInPlace(weight)
                graph.weights[name] = weight
            }
            packed.insert(node.name)
        }
        return packed
    }

    /// `gatedProducts`: two-input muls whose output, no graph output, only a 1×1 stride-1
    /// unpadded convolution reads, one input of the output's shape `[N, C, H, W]` (more than
    /// one pixel) and the other `[N, C, 1, 1]`.
    private static func gatedProducts(_ graph: Graph, shapes: [String: [Int]], readers: [String: Int],
                                      producers: [String: Node]) -> [String: Int] {
        var gated: [String: Int] = [:]
        for node in graph.nodes {
            guard case .conv2d(let a) = node.op, a.kernel == [1, 1], a.stride == [1, 1], a.pads == [0, 0, 0, 0],
                  let input = node.inputs.first, readers[input] == 1, !graph.outputs.contains(input),
                  let mul = producers[input], case .mul = mul.op, mul.inputs.count == 2, mul.params.isEmpty,
                  let y = shapes[input], y.count == 4, y[2] * y[3] > 1 else { continue }
            let gate = [y[0], y[1], 1, 1]
            if let i = (0..<2).first(where: { shapes[mul.inputs[$0]] == y && shapes[mul.inputs[1 - $0]] == gate }) {
                gated[mul.name] = i
            }
        }
        return gated
    }

    /// The adds `a + b` where `a` is a conv's output read by nothing else, `b` is computed
    /// before that conv and has `a`'s shape, and neither is a graph output; with them the
    /// ReLU, Clip or element-wise function that alone reads the sum. Where both inputs
    /// qualify, the later conv takes the sum.
    private static func residualFusions(_ graph: Graph, shapes: [String: [Int]], readers: [String: Int],
                                        producers: [String: Node])
        -> ([String: (other: String, activation: FusedActivation?)], [String: String]) {
        let order = Dictionary(graph.nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var firstReader: [String: Node] = [:]  // the first node taking a tensor as its first input
        for n in graph.nodes { if let i = n.inputs.first, firstReader[i] == nil { firstReader[i] = n } }
        var fusions: [String: (other: String, activation: FusedActivation?)] = [:]
        var done: [String: String] = [:]
        for node in graph.nodes {
            guard case .add = node.op, node.inputs.count == 2, node.params.isEmpty, !graph.outputs.contains(node.output),
                  let s0 = shapes[node.inputs[0]], s0 == shapes[node.inputs[1]] else { continue }
            let candidates = (0..<2).compactMap { i -> (conv: Node, sum: String, other: String)? in
                let input = node.inputs[i], other = node.inputs[1 - i]
                guard let conv = producers[input], case .conv2d = conv.op, readers[input] == 1,
                      !graph.outputs.contains(input), fusions[conv.name] == nil, let at = order[conv.name] else { return nil }
                if let before = producers[other] { guard let b = order[before.name], b < at else { return nil } }
                return (conv, input, other)
            }
            guard let chosen = candidates.max(by: { order[$0.conv.name] ?? 0 < order[$1.conv.name] ?? 0 }) else { continue }
            var activation: FusedActivation?
            if readers[node.output] == 1, let next = firstReader[node.output],
               !graph.outputs.contains(next.output) {
                switch next.op {
                case .relu(let slope) where slope >= 0: activation = .relu(slope: slope)
                case .clip(let lo, let hi): activation = .clip(min: lo, max: hi)
                case .unary(let f): activation = .unary(f)
                default: break
                }
                if activation != nil { done[next.name] = node.output }
            }
            fusions[chosen.conv.name] = (chosen.other, activation)
            done[node.name] = chosen.sum
        }
        return (fusions, done)
    }

    /// The activation to run inside conv `name`: a ReLU or a Clip whenever fusing (a
    /// gradient through it still holds: x > 0 ⇔ ReLU(x) > 0, lo < x < hi ⇔ lo < clip(x) < hi,
    /// so its mask read from the output is the same), any other function only in forward-only
    /// runs (its derivative needs the conv's own output).
    private func fused(_ name: String, keepAll: Bool) -> FusedActivation? {
        guard let activation = fusedActivation[name] else { return nil }
        switch activation {
        case .relu, .clip: return activation
        case .unary: return keepAll ? nil : activation
        }
    }

    /// One input tensor per graph input (NCHW, any batch size, other dims as declared).
    /// `fuse` (default: when not keeping everything) applies a conv's activation inside the
    /// conv when the activation is its only reader, so the conv's tensor then holds the
    /// activation's output. With `keepAll` only ReLUs and Clips (ReLU6) are fused: plain
    /// gradients still hold (`fused`); rules that read a conv's own output (LRP, Grad-CAM)
    /// need `fuse: false`.
    public func run(_ inputs: [String: Tensor], keepAll: Bool = true, fuse: Bool? = nil) throws -> Activations {
        try Parallel.using(threads) { try forward(inputs, keepAll: keepAll, fuse: fuse) }
    }

    private func forward(_ inputs: [String: Tensor], keepAll: Bool, fuse: Bool?) throws -> Activations {
        let fuse = fuse ?? !keepAll
        var values: [String: Tensor] = [:]
        var batch: Int?
        for input in graph.inputs {
            guard let t = inputs[input.name] else { throw SRError.usage("no value for input '\(input.name)'") }
            guard t.shape.count == input.shape.count, t.shape.dropFirst() == input.shape.dropFirst(), t.shape.first ?? 0 >= 1 else {
                throw SRError.malformed("input '\(input.name)' has shape \(t.shape); the model expects [N, \(input.shape.dropFirst().map(String.init).joined(separator: ", "))]")
            }
            if let b = batch, b != t.shape[0] { throw SRError.malformed("inputs have different batch sizes") }
            batch = t.shape[0]
            values[input.name] = t
        }
        let shapes = try shapeTable(batch: batch ?? 1)
        try budget.checkMemory(keepAll ? shapes.plans.keepAll : shapes.plans.freeing, keepAll: keepAll, batch: batch ?? 1)
        var remaining = keepAll ? [:] : readers
        // The gates of the products in `gatedProducts` not written, by the product's name;
        // the product's name holds its other input x.
        var pendingGates: [String: Tensor] = [:]
        var chains = ConcatChains.Pass()
        func value(_ name: String) throws -> Tensor {
            guard let t = values[name] else { throw SRError.internalError("activation '\(name)' missing") }
            return t
        }
        for node in graph.nodes {
            var ins = try node.inputs.map(value)
            guard let outShape = shapes.shapes[node.output] else { throw SRError.internalError("no shape for '\(node.output)'") }
            let started = observer == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let y: Tensor
            let residual = fuse && !keepAll ? fusedResidual[node.name] : nil
            var gate: Tensor?
            if let product = node.inputs.first, let g = pendingGates.removeValue(forKey: product) {
                // A conv reading an unwritten product: it takes the gate itself, or (when its
                // 1×1 kernel does not run, the packed product having its own layout) the
                // product is made now. The gate's shape is checked again: the kernel reads one
                // gate per image.
                if case .conv2d(let a) = node.op, g.shape == [ins[0].shape[0], ins[0].shape[1], 1, 1],
                   Kernels.pointwiseApplies(inChannels: ins[0].shape[1] / a.group, pixels: outShape[2] * outShape[3]) {
                    gate = g
                } else {
                    ins[0] = Kernels.combine([ins[0], g], outShape: ins[0].shape, .mul)
                }
            }
            if fuse && !keepAll, let signal = gatedProducts[node.name] {
                pendingGates[node.output] = ins[1 - signal]
                y = ins[signal]
            } else if let gate, case .conv2d(let a) = node.op {
                let activation = residual == nil ? fused(node.name, keepAll: keepAll) : residual?.activation
                y = Kernels.pointwiseConv2d(ins[0], weight: try weight(node, "weight"), bias: graph.weight(node, "bias"),
                                            groups: a.group, outShape: outShape, activation: activation,
                                            residual: try residual.map { try value($0.other) }, gate: gate)
            } else if fuse, let producer = producers[node.inputs.first ?? ""],
               fused(producer.name, keepAll: keepAll) != nil || (!keepAll && fusedIntoAffine[producer.name] != nil) {
                y = ins[0]  // already applied inside the conv or the affine
            } else if fuse && !keepAll, let holder = doneByResidual[node.name] {
                // An add (or the activation after it) that ran inside the conv producing one
                // of its inputs: that conv's output holds the result.
                y = try value(holder)
            } else if let residual, case .conv2d(let a) = node.op {
                y = Kernels.conv2d(ins[0], weight: try weight(node, "weight"), bias: graph.weight(node, "bias"), a,
                                   outShape: outShape, scratch: scratch, activation: residual.activation,
                                   residual: try value(residual.other), winograd: winograd)
            } else if fuse && !keepAll, let activation = fusedIntoAffine[node.name], case .batchNorm(let eps) = node.op {
                y = Kernels.batchNorm(ins[0], mean: try weight(node, "mean"), variance: try weight(node, "variance"),
                                      scale: graph.weight(node, "scale"), bias: graph.weight(node, "bias"), epsilon: eps,
                                      activation: activation, into: overwritable(node.inputs[0]) ? ins[0] : nil)
            } else if fuse && !keepAll, let activation = fusedIntoAffine[node.name], case .scale(let axis) = node.op {
                y = Kernels.channelAffine(ins[0], weight: try weight(node, "weight").values,
                                          bias: graph.weight(node, "bias")?.values ?? [], axis: axis, activation: activation,
                                          into: overwritable(node.inputs[0]) ? ins[0] : nil)
            } else if fuse && !keepAll, channelsFirstLinear[node.name] != nil {
                y = Kernels.packedLinearToChannelsFirst(ins[0], packedWeight: try weight(node, "weight"),
                                                        bias: graph.weight(node, "bias"))
            } else if fuse && !keepAll, case .transpose = node.op, let producer = producers[node.inputs[0]],
                      channelsFirstLinear[producer.name] == node.name {
                y = ins[0]  // already written channels first by the linear layer
            } else if fuse && !keepAll, let activation = fusedIntoAffine[node.name], case .linear = node.op {
                y = Kernels.packedLinear(ins[0], packedWeight: try weight(node, "weight"), bias: graph.weight(node, "bias"),
                                         activation: activation)
            } else if fuse, case .conv2d(let a) = node.op, let activation = fused(node.name, keepAll: keepAll) {
                y = Kernels.conv2d(ins[0], weight: try weight(node, "weight"), bias: graph.weight(node, "bias"), a,
                                   outShape: outShape, scratch: scratch, activation: activation, winograd: winograd)
            } else if fuse, case .relu(let slope) = node.op, slope >= 0, readers[node.inputs[0]] == 1, isFreshOutput(node.inputs[0]) {
                // Nothing else reads the input: rectify it in place instead of copying.
                Kernels.reluInPlace(ins[0], slope: slope)
                y = ins[0]
            } else if !keepAll, case .unary(let f) = node.op, overwritable(node.inputs[0]) {
                // The same for SiLU, HardSwish, GELU, … in a forward-only run (a backward pass
                // reads their input): no new tensor, no fresh pages.
                y = Kernels.unary(ins[0], f, into: ins[0])
            } else if !keepAll, case .clip(let lo, let hi) = node.op, overwritable(node.inputs[0]) {
                y = Kernels.unaryInPlace(ins[0], .clip(min: lo, max: hi))
            } else if case .concat(let axis) = node.op, let member = concatChains.members[node.name],
                      let lastShape = shapes.shapes[member.last],
                      let view = chains.output(of: member, named: node.output, axis: axis, ins: ins, outShape: outShape,
                                               lastShape: lastShape) {
                y = view
            } else {
                y = try compute(node, ins, outShape: outShape)
            }
            if let observer { observer(node, Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9) }
            for o in node.outputs { values[o] = y }
            if !keepAll {
                for name in node.inputs {
                    remaining[name, default: 1] -= 1
                    if remaining[name] == 0 && !graph.outputs.contains(name) { values[name] = nil }
                }
            }
        }
        return Activations(tensors: values)
    }

    /// The graph outputs for one input (the common single-input case).
    public func outputs(_ input: Tensor) throws -> [Tensor] {
        guard let name = graph.inputs.first?.name else { throw SRError.malformed("graph has no inputs") }
        let acts = try run([name: input], keepAll: false)
        return try graph.outputs.map { o in
            guard let t = acts[o] else { throw SRError.internalError("output '\(o)' not computed") }
            return t
        }
    }

    /// Computes one node's output from its inputs.
    public func evaluate(_ node: Node, _ ins: [Tensor], outShape: [Int]) throws -> Tensor {
        try Parallel.using(threads) { try compute(node, ins, outShape: outShape) }
    }

    private func compute(_ node: Node, _ ins: [Tensor], outShape: [Int]) throws -> Tensor {
        let x = ins[0]
        func w(_ role: String) throws -> Tensor {
            guard let t = graph.weight(node, role) else { throw SRError.internalError("node '\(node.name)' lacks '\(role)'") }
            return t
        }
        switch node.op {
        case .conv2d(let a):
            return Kernels.conv2d(x, weight: try w("weight"), bias: graph.weight(node, "bias"), a, outShape: outShape, scratch: scratch,
                                  winograd: winograd)
        case .convTranspose2d(let t):
            return Kernels.convTranspose2d(x, weight: try w("weight"), bias: graph.weight(node, "bias"), t, outShape: outShape,
                                           scratch: scratch, winograd: winograd)
        case .linear where packedLinear.contains(node.name):
            return Kernels.packedLinear(x, packedWeight: try w("weight"), bias: graph.weight(node, "bias"))
        case .linear: return Kernels.linear(x, weight: try w("weight"), bias: graph.weight(node, "bias"))
        case .relu(let slope): return Kernels.relu(x, slope: slope)
        case .prelu: return Kernels.prelu(x, slope: try w("slope"))
        case .maxPool2d(let a): return Kernels.maxPool2d(x, a, outShape: outShape)
        case .avgPool2d(let a): return Kernels.avgPool2d(x, a, outShape: outShape)
        case .globalAvgPool: return Kernels.globalAvgPool(x)
        case .globalMaxPool: return Kernels.globalMaxPool(x)
        case .lrn(let a): return Kernels.lrn(x, a)
        case .batchNorm(let eps):
            return Kernels.batchNorm(x, mean: try w("mean"), variance: try w("variance"), scale: graph.weight(node, "scale"),
                                     bias: graph.weight(node, "bias"), epsilon: eps)
        case .scale(let axis):
            return Kernels.channelAffine(x, weight: try w("weight").values, bias: graph.weight(node, "bias")?.values ?? [], axis: axis)
        case .add: return Kernels.combine(ins, outShape: outShape, .add)
        case .mul: return Kernels.combine(ins, outShape: outShape, .mul)
        case .max: return Kernels.combine(ins, outShape: outShape, .max)
        case .concat(let axis): return Kernels.concat(ins, axis: axis, outShape: outShape)
        case .flatten, .reshape, .identity: return try x.reshaped(outShape)
        case .softmax(let axis): return Kernels.softmax(x, axis: axis)
        case .sigmoid: return Kernels.sigmoid(x)
        case .tanh: return Kernels.tanh(x)
        case .power(let e): return Kernels.power(x, e)
        case .thresholdedRelu(let t): return Kernels.map(x) { $0 > t ? $0 : 0 }
        case .clip(let lo, let hi): return Kernels.clip(x, min: lo, max: hi)
        case .pad(let pads, let value): return Kernels.pad(x, pads: pads, value: value, outShape: outShape)
        case .transpose(let perm): return Kernels.transpose(x, perm: perm)
        case .reduce(let a): return try Kernels.reduce(x, a).reshaped(outShape)
        case .slice(let axis, let start, _, let step):
            return Kernels.slice(x, axis: axis, start: start, step: step, outShape: outShape)
        case .unary(let f): return Kernels.unary(x, f)
        case .matmul: return Kernels.matmul(x, ins[1], outShape: outShape)
        case .resize(let a): return Kernels.resize(x, a)
        case .batchConstant: return Kernels.repeatOverBatch(try w("value"), batch: x.shape[0])
        case .layerNorm(let axis, let eps):
            return Kernels.layerNorm(x, axis: axis, epsilon: eps, scale: graph.weight(node, "scale"), bias: graph.weight(node, "bias"))
        }
    }

    /// Activation shapes for a batch size (cached).
    public func shapeTable(batch: Int) throws -> ShapeTable {
        if let t = shapesByBatch.object(forKey: NSNumber(value: batch)) { return t }
        let t = ShapeTable(graph: graph, shapes: try graph.inferShapes(batch: batch))
        shapesByBatch.setObject(t, forKey: NSNumber(value: batch))
        return t
    }

    private func weight(_ node: Node, _ role: String) throws -> Tensor {
        guard let t = graph.weight(node, role) else { throw SRError.internalError("node '\(node.name)' lacks '\(role)'") }
        return t
    }

    /// Whether a forward-only run may write the running node's result over `tensor`: that
    /// node is its only reader, a kernel made it (no view of another tensor's storage) and
    /// it is no graph output.
    private func overwritable(_ tensor: String) -> Bool {
        readers[tensor] == 1 && isFreshOutput(tensor) && !graph.outputs.contains(tensor)
    }

    /// True when `tensor` is a kernel's own output (not a graph input, weight view, reshape
    /// or concat chain member sharing storage with another tensor), so it may be overwritten.
    private func isFreshOutput(_ tensor: String) -> Bool {
        guard let producer = producers[tensor] else { return false }
        switch producer.op {
        case .concat: return concatChains.members[producer.name] == nil
        case .conv2d, .convTranspose2d, .linear, .batchNorm, .scale, .add, .mul, .max, .avgPool2d, .maxPool2d, .lrn, .pad, .prelu:
            return true
        case .relu, .globalAvgPool, .globalMaxPool, .flatten, .reshape, .identity, .softmax, .sigmoid, .tanh, .clip:
            return false
        case .power, .thresholdedRelu, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            return true
        }
    }
}

/// Activation shapes of a graph for one batch size, and the activation memory a forward
/// pass at that size needs with and without `keepAll` (checked against the budget before
/// every pass; planned once here, which took a tenth of a pass of a hundred small layers).
public final class ShapeTable {
    public let shapes: [String: [Int]]
    let plans: (freeing: MemoryPlan, keepAll: MemoryPlan)
    init(graph: Graph, shapes: [String: [Int]]) {
        self.shapes = shapes
        plans = (MemoryPlan(graph: graph, shapes: shapes, keepAll: false), MemoryPlan(graph: graph, shapes: shapes, keepAll: true))
    }
}
