import Foundation
import SRCore
import SRRuntime

/// The plain gradient (vector–Jacobian product) of every op: what flows through a node no
/// rule modifies (max pooling's winner-takes-all, concat's split, reshape), and the
/// gradient methods' rule everywhere.
public struct Gradient: Rule {
    public var name: String { "gradient" }
    public init() {}

    /// Every op has its input gradient (`backward`).
    public func applies(to op: Op) -> Bool {
        switch op {
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn,
             .batchNorm, .scale, .add, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .thresholdedRelu,
             .power, .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
            true
        }
    }

    /// The gradient passes relevance on unchanged in sum through ops that only move, copy
    /// or pick values: layout ops, max pooling, and sum / max / min reductions.
    public func conserves(at node: Node, in graph: Graph) -> Bool {
        switch node.op {
        case .flatten, .reshape, .identity, .concat, .maxPool2d, .globalMaxPool, .pad, .transpose: true
        case .reduce(let a): a.kind == .sum || a.kind == .max || a.kind == .min
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .avgPool2d, .globalAvgPool, .lrn, .batchNorm, .scale, .add,
             .mul, .max, .softmax, .sigmoid, .tanh, .thresholdedRelu, .power, .clip, .slice, .unary, .layerNorm, .matmul,
             .batchConstant, .resize:
            false
        }
    }

    public func backward(_ c: RuleContext) throws -> [Tensor?] {
        let g = c.signal
        let x = c.inputs[0]
        switch c.node.op {
        case .conv2d(let a):
            // F(4×4, 3×3) Winograd: its rounding scales the signal, it moves no switch.
            return [Kernels.conv2dBackwardData(g, weight: try c.weight("weight"), a, inShape: x.shape, scratch: c.scratch,
                                               winograd: .f4x4)]
        case .convTranspose2d(let t):
            // The adjoint of the adjoint: the forward convolution of the signal.
            return [Kernels.conv2d(g, weight: try c.weight("weight"), bias: nil, t.conv, outShape: x.shape, scratch: c.scratch,
                                   winograd: .f4x4)]
        case .linear:
            return [Kernels.linearBackwardData(g, weight: try c.weight("weight"))]
        case .relu(let slope):
            return [Kernels.reluBackward(g, input: x, slope: slope)]
        case .prelu:
            let slope = try c.weight("slope").values
            return [perChannel(g, x) { gv, xv, ch in xv > 0 ? gv : gv * slope[slope.count == 1 ? 0 : ch] }]
        case .maxPool2d(let a):
            return [Kernels.maxPool2dBackward(g, input: x, a)]
        case .avgPool2d(let a):
            return [Kernels.avgPool2dBackward(g, inShape: x.shape, a)]
        case .globalAvgPool:
            return [Kernels.globalPoolBackward(g, input: x, max: false)]
        case .globalMaxPool:
            return [Kernels.globalPoolBackward(g, input: x, max: true)]
        case .lrn(let a):
            return [Kernels.lrnBackward(g, input: x, a)]
        case .batchNorm(let eps):
            let v = try c.weight("variance").values
            let s = c.graph.weight(c.node, "scale")?.values
            let w = v.indices.map { (s?[$0] ?? 1) / ($0 < v.count ? (v[$0] + eps).squareRoot() : 1) }
            return [Kernels.channelAffine(g, weight: w, bias: [])]
        case .scale(let axis):
            return [Kernels.channelAffine(g, weight: try c.weight("weight").values, bias: [], axis: axis)]
        case .add:
            return c.inputs.map { reduceToShape(g, $0.shape) }
        case .mul:
            return c.inputs.indices.map { i in
                let others = c.inputs.enumerated().filter { $0.offset != i }.map(\.element)
                // A gate's gradient Σ g ⊙ x over the blocks it was broadcast to, in one pass.
                if others.count == 1, others[0].shape == g.shape,
                   let sums = Kernels.blockSums(g, times: others[0], into: c.inputs[i].shape) {
                    return sums
                }
                let product = Kernels.combine([g] + others, outShape: g.shape, .mul)
                return reduceToShape(product, c.inputs[i].shape)
            }
        case .max:
            return c.inputs.indices.map { i in
                // d max / d x_i = 1 where x_i is the (first) largest input.
                let t = Tensor(zeros: g.shape)
                let expanded = c.inputs.map { Kernels.combine([$0], outShape: g.shape, .add) }
                for e in 0..<g.count {
                    var at = 0
                    for k in 1..<expanded.count where expanded[k].pointer[e] > expanded[at].pointer[e] { at = k }
                    if at == i { t.pointer[e] = g.pointer[e] }
                }
                return reduceToShape(t, c.inputs[i].shape)
            }
        case .concat(let axis):
            return split(g, axis: axis, shapes: c.inputs.map(\.shape))
        case .flatten, .reshape, .identity:
            return [try g.reshaped(x.shape)]
        case .softmax(let axis):
            // dX = y ⊙ (dY − Σ_axis dY ⊙ y)
            let y = c.output
            let out = Tensor(uninitialized: g.shape)
            let outer = g.shape.prefix(axis).reduce(1, *), len = g.shape[axis]
            let inner = g.shape.suffix(from: axis + 1).reduce(1, *)
            for o in 0..<outer { for i in 0..<inner {
                let base = o * len * inner + i
                var dot: Float = 0
                for k in 0..<len { dot += g.pointer[base + k * inner] * y.pointer[base + k * inner] }
                for k in 0..<len { let e = base + k * inner; out.pointer[e] = y.pointer[e] * (g.pointer[e] - dot) }
            } }
            return [out]
        case .sigmoid:
            return [zip3(g, c.output) { gv, yv in gv * yv * (1 - yv) }]
        case .tanh:
            return [zip3(g, c.output) { gv, yv in gv * (1 - yv * yv) }]
        case .thresholdedRelu(let t):
            return [zip3(g, x) { gv, xv in xv > t ? gv : 0 }]
        case .power(let e):
            return [zip3(g, x) { gv, xv in gv * e * powf(xv, e - 1) }]
        case .clip(let lo, let hi):
            return [Kernels.clipBackward(g, input: x, min: lo, max: hi)]
        case .pad(let pads, _):
            let (h, w) = (x.shape[2], x.shape[3])
            let wo = g.shape[3], ho = g.shape[2]
            let out = Tensor(uninitialized: x.shape)
            for nc in 0..<(x.shape[0] * x.shape[1]) {
                for y in 0..<h {
                    (out.pointer + nc * h * w + y * w).update(from: g.pointer + nc * ho * wo + (y + pads[0]) * wo + pads[1], count: w)
                }
            }
            return [out]
        case .transpose(let perm):
            return [Kernels.transposeBackward(g, perm: perm)]
        case .reduce(let a):
            let kept = x.shape.indices.map { a.axes.contains($0) ? 1 : x.shape[$0] }
            return [Kernels.reduceBackward(try g.reshaped(kept), input: x, a)]
        case .slice(let axis, let start, _, let step):
            return [Kernels.sliceBackward(g, axis: axis, start: start, step: step, inShape: x.shape)]
        case .unary(let f):
            return [Kernels.unaryBackward(g, input: x, f)]
        case .matmul:
            let (da, db) = Kernels.matmulBackward(g, x, c.inputs[1])
            return [reduceToShape(da, x.shape), reduceToShape(db, c.inputs[1].shape)]
        case .resize(let a):
            return [Kernels.resizeBackward(g, inShape: x.shape, a)]
        case .batchConstant:
            return [Tensor(zeros: x.shape)]  // the input gives only the batch size
        case .layerNorm(let axis, let eps):
            return [Kernels.layerNormBackward(g, input: x, axis: axis, epsilon: eps, scale: c.graph.weight(c.node, "scale"))]
        }
    }
}

/// `f(a[i], b[i])` over two tensors of equal shape, spread over the workers.
func zip3(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    let (o, ap, bp) = (out.pointer, a.pointer, b.pointer)
    Parallel.forEach(a.count, minChunk: 1 << 15) { r in for i in r { o[i] = f(ap[i], bp[i]) } }
    return out
}

/// `f(a[i], b[i], channel)` over two NC… tensors of equal shape.
func perChannel(_ a: Tensor, _ b: Tensor, _ f: (Float, Float, Int) -> Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    let c = a.shape.count > 1 ? a.shape[1] : 1
    let plane = a.count / max(a.shape[0] * c, 1)
    for i in 0..<a.count { out.pointer[i] = f(a.pointer[i], b.pointer[i], (i / max(plane, 1)) % c) }
    return out
}

/// Sums a broadcast gradient back to the shape of the input that was broadcast: by blocks
/// where it was broadcast by blocks (`Kernels.blockSums`), else element by element.
func reduceToShape(_ g: Tensor, _ shape: [Int]) -> Tensor {
    if g.shape == shape { return g }
    if let sums = Kernels.blockSums(g, into: shape) { return sums }
    let out = Tensor(zeros: shape)
    let rank = g.shape.count
    let padded = [Int](repeating: 1, count: rank - shape.count) + shape
    var stride = [Int](repeating: 0, count: rank), acc = 1
    for d in (0..<rank).reversed() { stride[d] = padded[d] == 1 ? 0 : acc; acc *= padded[d] }
    var index = [Int](repeating: 0, count: rank), dst = 0
    for i in 0..<g.count {
        out.pointer[dst] += g.pointer[i]
        var d = rank - 1
        while d >= 0 {
            index[d] += 1; dst += stride[d]
            if index[d] < g.shape[d] { break }
            dst -= stride[d] * index[d]; index[d] = 0; d -= 1
        }
    }
    return out
}

/// Splits a concatenated signal back into its parts along `axis`.
func split(_ g: Tensor, axis: Int, shapes: [[Int]]) -> [Tensor?] {
    let outer = g.shape.prefix(axis).reduce(1, *)
    let total = g.shape.suffix(from: axis).reduce(1, *)
    var offset = 0
    return shapes.map { s in
        let chunk = s.suffix(from: axis).reduce(1, *)
        let t = Tensor(uninitialized: s)
        for o in 0..<outer { (t.pointer + o * chunk).update(from: g.pointer + o * total + offset, count: chunk) }
        offset += chunk
        return t
    }
}
