import Foundation
import SRCore

extension Kernels {
    /// Applies `f` to every element. Inlinable, so that a caller in another module gets
    /// the loop specialised for its `f` (vectorised) instead of a call per element.
    @inlinable
    public static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let (n, src, dst) = (x.count, x.pointer, out.pointer)
        Parallel.forEach(n, minChunk: 1 << 16) { r in
            for i in r { dst[i] = f(src[i]) }
        }
        return out
    }

    /// `max(x, 0)` of every element, eight lanes at a time (LRP's x⁺; `map` with a closure
    /// from another module calls it per element). As Swift's `max(v, 0)`: −0 becomes +0,
    /// NaN stays.
    public static func positivePart(_ x: Tensor) -> Tensor {
        lanewise(x) { $0.replacing(with: 0, where: $0 .<= 0) }
    }

    /// `min(x, 0)` of every element (LRP's x⁻), as Swift's `min(v, 0)`: NaN stays.
    public static func negativePart(_ x: Tensor) -> Tensor {
        lanewise(x) { $0.replacing(with: 0, where: $0 .> 0) }
    }

    /// `f` over eight lanes at a time, and over the tail padded to eight.
    @inline(__always)
    private static func lanewise(_ x: Tensor, _ f: (SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let (src, dst) = (x.pointer, out.pointer)
        Parallel.forEach(x.count, minChunk: 1 << 16) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                (dst + i).setLanes(f((src + i).lanes()))
                i += 8
            }
            if i < r.upperBound {
                var tail = SIMD8<Float>()
                for j in i..<r.upperBound { tail[j - i] = src[j] }
                let y = f(tail)
                for j in i..<r.upperBound { dst[j] = y[j - i] }
            }
        }
        return out
    }

    /// `max(x, 0) + slope·min(x, 0)`.
    public static func relu(_ x: Tensor, slope: Float) -> Tensor {
        slope == 0 ? map(x) { $0 > 0 ? $0 : 0 } : map(x) { $0 > 0 ? $0 : $0 * slope }
    }

    /// The gradient through `relu(x, slope)`: `g` where x > 0, `g·slope` elsewhere; `guided`
    /// also zeroes it where `g` is not positive (guided backpropagation). One loop per kind,
    /// eight lanes wide (a closure from another module would be called per element).
    public static func reluBackward(_ g: Tensor, input x: Tensor, slope: Float, guided: Bool = false) -> Tensor {
        let out = Tensor(uninitialized: g.shape)
        let (o, gp, xp) = (out.pointer, g.pointer, x.pointer)
        Parallel.forEach(g.count, minChunk: 1 << 15) { r in
            if guided {
                for i in r { let s = gp[i]; o[i] = s > 0 ? (xp[i] > 0 ? s : s * slope) : 0 }
            } else {
                for i in r { let s = gp[i]; o[i] = xp[i] > 0 ? s : s * slope }
            }
        }
        return out
    }

    /// Clip's gradient: `g` where `lo < x < hi`, else 0 (PyTorch's hardtanh backward, ReLU6's;
    /// a NaN input gives 0). As a closure per element it took half of MobileNetV2's gradient.
    public static func clipBackward(_ g: Tensor, input x: Tensor, min lo: Float, max hi: Float) -> Tensor {
        let out = Tensor(uninitialized: g.shape)
        let (o, gp, xp) = (out.pointer, g.pointer, x.pointer)
        Parallel.forEach(g.count, minChunk: 1 << 15) { r in
            for i in r { let v = xp[i]; o[i] = v > lo && v < hi ? gp[i] : 0 }
        }
        return out
    }

    /// ReLU applied to `x`'s own storage (the executor's fusion of conv/linear → ReLU).
    public static func reluInPlace(_ x: Tensor, slope: Float) {
        let p = x.pointer
        Parallel.forEach(x.count, minChunk: 1 << 16) { r in
            for i in r { let v = p[i]; p[i] = v > 0 ? v : v * slope }
        }
    }

    /// PReLU with a slope per channel (or one shared).
    public static func prelu(_ x: Tensor, slope: Tensor) -> Tensor {
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(n * c, 1)
        let out = Tensor(uninitialized: x.shape)
        for nc in 0..<n * c {
            let s = slope.count == 1 ? slope.pointer[0] : slope.pointer[nc % c]
            let src = x.pointer + nc * plane, dst = out.pointer + nc * plane
            for i in 0..<plane { dst[i] = src[i] > 0 ? src[i] : src[i] * s }
        }
        return out
    }

    public static func sigmoid(_ x: Tensor) -> Tensor { map(x) { 1 / (1 + expf(-$0)) } }
    public static func tanh(_ x: Tensor) -> Tensor { map(x) { tanhf($0) } }
    /// `x^e`, with Caffe's special cases: e = 1 copies, e = 2 squares exactly.
    public static func power(_ x: Tensor, _ e: Float) -> Tensor {
        e == 2 ? map(x) { $0 * $0 } : e == 1 ? map(x) { $0 } : map(x) { powf($0, e) }
    }
    /// `min(max(x, lo), hi)`: with lo > hi every value becomes hi, as ONNX specifies.
    public static func clip(_ x: Tensor, min lo: Float, max hi: Float) -> Tensor { map(x) { Swift.min(Swift.max($0, lo), hi) } }

    /// The element-wise ops between activations.
    public enum Binary: Sendable {
        case add, mul, max

        @inline(__always) func apply(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .add: a + b
            case .mul: a * b
            case .max: Swift.max(a, b)
            }
        }
    }

    /// The adjoint of broadcasting by blocks (`BlockBroadcast`, at least eight floats a block):
    /// each element of a tensor of `shape` gets the sum over the blocks of `a` it was copied
    /// into, or with `b` (a's shape), of `a ⊙ b` — a gate's gradient `Σ_hw g·x` without the
    /// product tensor. nil when `shape` does not broadcast into `a` that way.
    public static func blockSums(_ a: Tensor, times b: Tensor? = nil, into shape: [Int]) -> Tensor? {
        guard let blocks = BlockBroadcast(shape, into: a.shape), blocks.inner >= 8,
              b == nil || b?.shape == a.shape else { return nil }
        let out = Tensor(zeros: shape)
        let (o, ap, bp, inner) = (out.pointer, a.pointer, b?.pointer, blocks.inner)
        let count = a.count / inner
        // Eight lanes, then the tail; the same order whatever the split between workers.
        @inline(__always) func sum(_ block: Int) -> Float {
            let x = ap + block * inner
            var acc = SIMD8<Float>(), i = 0
            if let bp {
                let y = bp + block * inner
                while i + 8 <= inner { acc.addProduct((x + i).lanes(), (y + i).lanes()); i += 8 }
                var s = acc.sum()
                while i < inner { s += x[i] * y[i]; i += 1 }
                return s
            }
            while i + 8 <= inner { acc += (x + i).lanes(); i += 8 }
            var s = acc.sum()
            while i < inner { s += x[i]; i += 1 }
            return s
        }
        if count == out.count {
            // One block per element (nothing broadcast before the blocks): the workers split them.
            Parallel.forEach(count, minChunk: max(1, (1 << 15) / inner)) { r in
                for block in r { o[blocks.source(block)] = sum(block) }
            }
        } else {
            for block in 0..<count { o[blocks.source(block)] += sum(block) }
        }
        return out
    }

    /// Element-wise reduction of two or more inputs with numpy broadcasting into `outShape`.
    public static func combine(_ inputs: [Tensor], outShape: [Int], _ op: Binary) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let n = out.count
        // A full tensor and one constant over blocks of the output (a squeeze-and-excitation
        // gate), in either order: one pass, `out = full op value` (every op is commutative).
        if inputs.count == 2, let f = inputs.firstIndex(where: { $0.shape == outShape }),
           let blocks = BlockBroadcast(inputs[1 - f].shape, into: outShape), blocks.inner >= 8 {
            let (o, src, tp, inner) = (out.pointer, inputs[f].pointer, inputs[1 - f].pointer, blocks.inner)
            Parallel.forEach(n / inner, minChunk: max(1, (1 << 14) / inner)) { range in
                for block in range {
                    let v = tp[blocks.source(block)], d = o + block * inner, x = src + block * inner
                    switch op {
                    case .add: for i in 0..<inner { d[i] = x[i] + v }
                    case .mul: for i in 0..<inner { d[i] = x[i] * v }
                    case .max: for i in 0..<inner { d[i] = Swift.max(x[i], v) }
                    }
                }
            }
            return out
        }
        for (k, t) in inputs.enumerated() {
            if t.shape == outShape {
                let o = out.pointer, src = t.pointer
                Parallel.forEach(n, minChunk: 1 << 16) { r in
                    if k == 0 {
                        (o + r.lowerBound).update(from: src + r.lowerBound, count: r.count)
                    } else {
                        switch op {
                        case .add: for i in r { o[i] += src[i] }
                        case .mul: for i in r { o[i] *= src[i] }
                        case .max: for i in r { o[i] = Swift.max(o[i], src[i]) }
                        }
                    }
                }
                continue
            }
            if let blocks = BlockBroadcast(t.shape, into: outShape), blocks.inner >= 8 {
                let (o, tp, first, inner) = (out.pointer, t.pointer, k == 0, blocks.inner)
                Parallel.forEach(n / inner, minChunk: max(1, (1 << 14) / inner)) { range in
                    for block in range {
                        let v = tp[blocks.source(block)], dst = o + block * inner
                        if first { dst.update(repeating: v, count: inner); continue }
                        switch op {
                        case .add: for i in 0..<inner { dst[i] += v }
                        case .mul: for i in 0..<inner { dst[i] *= v }
                        case .max: for i in 0..<inner { dst[i] = Swift.max(dst[i], v) }
                        }
                    }
                }
                continue
            }
            let rank = outShape.count
            let padded = [Int](repeating: 1, count: rank - t.shape.count) + t.shape
            var stride = [Int](repeating: 0, count: rank), acc = 1
            for d in stride.indices.reversed() {
                stride[d] = padded[d] == 1 ? 0 : acc
                acc *= padded[d]
            }
            var index = [Int](repeating: 0, count: rank)
            var src = 0
            for i in 0..<n {
                let v = t.pointer[src]
                out.pointer[i] = k == 0 ? v : op.apply(out.pointer[i], v)
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1
                    src += stride[d]
                    if index[d] < outShape[d] { break }
                    src -= stride[d] * index[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        return out
    }
}

/// A tensor broadcast into `outShape` that is constant over its trailing axes (a per-channel
/// gate [N, C, 1, 1] on [N, C, H, W]): one value per contiguous block of `inner` outputs.
struct BlockBroadcast {
    let inner: Int
    private let prefix: [Int], prefixStride: [Int]

    /// nil when `shape` does not broadcast into `outShape` that way (or equals it).
    init?(_ shape: [Int], into outShape: [Int]) {
        let rank = outShape.count
        guard shape.count <= rank, shape != outShape else { return nil }
        let padded = [Int](repeating: 1, count: rank - shape.count) + shape
        var stride = [Int](repeating: 0, count: rank), acc = 1
        for d in stride.indices.reversed() {
            guard padded[d] == 1 || padded[d] == outShape[d] else { return nil }
            stride[d] = padded[d] == 1 ? 0 : acc
            acc *= padded[d]
        }
        var split = rank
        while split > 0 && padded[split - 1] == 1 { split -= 1 }
        inner = outShape.suffix(from: split).reduce(1, *)
        prefix = Array(outShape.prefix(split))
        prefixStride = Array(stride.prefix(split))
    }

    /// The index in the broadcast tensor of output block `block`.
    @inline(__always) func source(_ block: Int) -> Int {
        var r = block, src = 0
        for d in prefix.indices.reversed() { src += (r % prefix[d]) * prefixStride[d]; r /= prefix[d] }
        return src
    }
}
