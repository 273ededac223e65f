import Foundation
import SRCore

/// The N-D layout ops (transpose, slice, reduce) and their input gradients. Every shape is
/// row-major: the last axis is contiguous.
extension Kernels {
    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in shape.indices.reversed() { s[d] = acc; acc *= shape[d] }
        return s
    }

    /// `y[i₀, …] = x[i at perm]`: output axis `k` is input axis `perm[k]`. The innermost
    /// output axis is walked as a strided copy; outer indices advance like an odometer.
    /// Trailing axes that keep their place (`perm[k] == k`) are one contiguous run in both
    /// tensors and are copied as one axis: a channel shuffle's [N, g, C/g, H, W] →
    /// [N, C/g, g, H, W] copies whole H × W planes, not rows of W.
    public static func transpose(_ x: Tensor, perm: [Int]) -> Tensor {
        let out = Tensor(uninitialized: perm.map { x.shape[$0] })
        var kept = perm.count
        while kept > 1 && perm[kept - 1] == kept - 1 { kept -= 1 }
        let inShape = kept < perm.count - 1 ? Array(x.shape.prefix(kept)) + [x.shape.suffix(from: kept).reduce(1, *)] : x.shape
        let order = kept < perm.count - 1 ? Array(perm.prefix(kept)) + [kept] : perm
        let outShape = order.map { inShape[$0] }
        let inStrides = strides(inShape)
        let src = order.map { inStrides[$0] }  // input stride of each output axis
        let rank = outShape.count
        guard out.count > 0 else { return out }
        if rank == 0 { out.pointer[0] = x.pointer[0]; return out }
        let inner = outShape[rank - 1], innerStride = src[rank - 1]
        let rows = out.count / max(inner, 1)
        Parallel.forEach(rows, minChunk: max(1, 4096 / max(inner, 1))) { range in
            var index = [Int](repeating: 0, count: rank)
            // Start index of the first row of this range.
            var r = range.lowerBound, base = 0
            for d in (0..<(rank - 1)).reversed() {
                index[d] = r % outShape[d]; r /= outShape[d]
                base += index[d] * src[d]
            }
            for row in range {
                let o = out.pointer + row * inner
                let p = x.pointer + base
                if innerStride == 1 { o.update(from: p, count: inner) } else {
                    for i in 0..<inner { o[i] = p[i * innerStride] }
                }
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1; base += src[d]
                    if index[d] < outShape[d] { break }
                    base -= src[d] * index[d]; index[d] = 0; d -= 1
                }
            }
        }
        return out
    }

    /// The input gradient of `transpose(perm)`: the inverse permutation.
    public static func transposeBackward(_ g: Tensor, perm: [Int]) -> Tensor {
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return transpose(g, perm: inverse)
    }

    /// `start, start + step, …` below `end` along `axis`.
    public static func slice(_ x: Tensor, axis: Int, start: Int, step: Int, outShape: [Int]) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let outer = x.shape.prefix(axis).reduce(1, *), inner = x.shape.suffix(from: axis + 1).reduce(1, *)
        let len = x.shape[axis], n = outShape[axis]
        for o in 0..<outer {
            for k in 0..<n {
                (out.pointer + (o * n + k) * inner).update(from: x.pointer + (o * len + start + k * step) * inner, count: inner)
            }
        }
        return out
    }

    /// The input gradient of `slice`: `g` scattered into zeros of the input's shape.
    public static func sliceBackward(_ g: Tensor, axis: Int, start: Int, step: Int, inShape: [Int]) -> Tensor {
        let out = Tensor(zeros: inShape)
        let outer = inShape.prefix(axis).reduce(1, *), inner = inShape.suffix(from: axis + 1).reduce(1, *)
        let len = inShape[axis], n = g.shape[axis]
        for o in 0..<outer {
            for k in 0..<n {
                (out.pointer + (o * len + start + k * step) * inner).update(from: g.pointer + (o * n + k) * inner, count: inner)
            }
        }
        return out
    }

    /// Mean, sum, max or min over `axes`, in float32 accumulation order over the reduced
    /// elements of each output (row-major). The output is the kept-dims shape; callers
    /// reshape for `keepDims == false`.
    public static func reduce(_ x: Tensor, _ a: ReduceAttributes) -> Tensor {
        let kept = x.shape.indices.map { a.axes.contains($0) ? 1 : x.shape[$0] }
        let out = Tensor(uninitialized: kept)
        let plan = ReducePlan(shape: x.shape, axes: a.axes)
        let count = Float(plan.reducedCount)
        Parallel.forEach(out.count, minChunk: 64) { range in
            for o in range {
                let base = plan.base(ofOutput: o, keptShape: kept)
                var acc: Float
                switch a.kind {
                case .mean, .sum: acc = 0
                case .max: acc = -.infinity
                case .min: acc = .infinity
                }
                plan.forEachOffset { off in
                    let v = x.pointer[base + off]
                    switch a.kind {
                    case .mean, .sum: acc += v
                    case .max: acc = Swift.max(acc, v)
                    case .min: acc = Swift.min(acc, v)
                    }
                }
                out.pointer[o] = a.kind == .mean ? acc / count : acc
            }
        }
        return out
    }

    /// The input gradient of `reduce`: mean spreads `g/count`, sum copies `g`, max and min
    /// give `g` to the first extreme element (as `globalMaxPool` does). `g` has the
    /// kept-dims shape.
    public static func reduceBackward(_ g: Tensor, input x: Tensor, _ a: ReduceAttributes) -> Tensor {
        let out = Tensor(zeros: x.shape)
        let kept = x.shape.indices.map { a.axes.contains($0) ? 1 : x.shape[$0] }
        let plan = ReducePlan(shape: x.shape, axes: a.axes)
        let scale: Float = a.kind == .mean ? 1 / Float(plan.reducedCount) : 1
        for o in 0..<g.count {
            let base = plan.base(ofOutput: o, keptShape: kept)
            let gv = g.pointer[o]
            switch a.kind {
            case .mean, .sum:
                plan.forEachOffset { off in out.pointer[base + off] = gv * scale }
            case .max, .min:
                var best = 0, bestValue = a.kind == .max ? -Float.infinity : Float.infinity, first = true
                plan.forEachOffset { off in
                    let v = x.pointer[base + off]
                    if first || (a.kind == .max ? v > bestValue : v < bestValue) { best = off; bestValue = v; first = false }
                }
                out.pointer[base + best] = gv
            }
        }
        return out
    }
}

/// Offsets of the elements one reduction output reads: the reduced axes' strides.
struct ReducePlan {
    let strides: [Int]
    let reducedDims: [Int]
    let reducedStrides: [Int]
    var reducedCount: Int { reducedDims.reduce(1, *) }

    init(shape: [Int], axes: [Int]) {
        let all = Kernels.strides(shape)
        strides = all
        reducedDims = axes.map { shape[$0] }
        reducedStrides = axes.map { all[$0] }
    }

    /// The input offset of output `o`'s first element (`o` indexes the kept-dims shape).
    func base(ofOutput o: Int, keptShape: [Int]) -> Int {
        var r = o, base = 0
        for d in keptShape.indices.reversed() {
            base += (r % keptShape[d]) * strides[d]
            r /= keptShape[d]
        }
        return base
    }

    /// Calls `body` with every offset (relative to a base) of the reduced axes, row-major.
    func forEachOffset(_ body: (Int) -> Void) {
        let rank = reducedDims.count
        guard reducedDims.allSatisfy({ $0 > 0 }) else { return }
        var index = [Int](repeating: 0, count: rank), off = 0
        while true {
            body(off)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1; off += reducedStrides[d]
                if index[d] < reducedDims[d] { break }
                off -= reducedStrides[d] * index[d]; index[d] = 0; d -= 1
            }
            if d < 0 { return }
        }
    }
}

extension Kernels {
    /// `A·B` over the last two axes with the leading axes broadcast: one sgemm per matrix
    /// pair (`[…, M, K]·[…, K, N] → […, M, N]`).
    public static func matmul(_ a: Tensor, _ b: Tensor, outShape: [Int]) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let pairs = MatrixPairs(a.shape, b.shape, outShape)
        Parallel.forEach(pairs.count, minChunk: 1) { range in
            for l in range {
                let (ia, ib) = pairs.offsets(l)
                BLAS.sgemmSingle(m: m, n: n, k: k, a: a.pointer + ia * m * k, lda: k, b: b.pointer + ib * k * n, ldb: n,
                                 c: out.pointer + l * m * n, ldc: n)
            }
        }
        return out
    }

    /// The input gradients of `matmul` at the output's leading shape (the caller sums them
    /// back over broadcast axes): `dA = dY·Bᵀ`, `dB = Aᵀ·dY`.
    public static func matmulBackward(_ g: Tensor, _ a: Tensor, _ b: Tensor) -> (Tensor, Tensor) {
        let lead = Array(g.shape.dropLast(2))
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let da = Tensor(uninitialized: lead + [m, k]), db = Tensor(uninitialized: lead + [k, n])
        let pairs = MatrixPairs(a.shape, b.shape, g.shape)
        Parallel.forEach(pairs.count, minChunk: 1) { range in
            for l in range {
                let (ia, ib) = pairs.offsets(l)
                let gl = g.pointer + l * m * n
                BLAS.sgemm(transB: true, m: m, n: k, k: n, a: gl, lda: n, b: b.pointer + ib * k * n, ldb: n,
                           c: da.pointer + l * m * k, ldc: k)
                BLAS.sgemm(transA: true, m: k, n: n, k: m, a: a.pointer + ia * m * k, lda: k, b: gl, ldb: n,
                           c: db.pointer + l * k * n, ldc: n)
            }
        }
        return (da, db)
    }

    /// `value` (`[1, …]`) repeated `batch` times.
    public static func repeatOverBatch(_ value: Tensor, batch: Int) -> Tensor {
        let out = Tensor(uninitialized: [batch] + value.shape.dropFirst())
        for i in 0..<batch { (out.pointer + i * value.count).update(from: value.pointer, count: value.count) }
        return out
    }
}

/// Which matrices of A and B each output matrix of a broadcasting `matmul` multiplies.
struct MatrixPairs {
    let count: Int
    private let lead: [Int], strideA: [Int], strideB: [Int]

    init(_ a: [Int], _ b: [Int], _ out: [Int]) {
        let lead = Array(out.dropLast(2))
        self.lead = lead
        count = lead.reduce(1, *)
        strideA = Self.matrixStrides(a, lead: lead)
        strideB = Self.matrixStrides(b, lead: lead)
    }

    /// Matrix strides of an operand over the output's leading axes (0 where broadcast).
    private static func matrixStrides(_ s: [Int], lead: [Int]) -> [Int] {
        let own = Array(s.dropLast(2))
        let padded = [Int](repeating: 1, count: lead.count - own.count) + own
        var st = [Int](repeating: 0, count: lead.count), acc = 1
        for d in padded.indices.reversed() { st[d] = padded[d] == 1 ? 0 : acc; acc *= padded[d] }
        return st
    }

    /// The matrix indices in A and B for output matrix `l`.
    func offsets(_ l: Int) -> (Int, Int) {
        var r = l, ia = 0, ib = 0
        for d in lead.indices.reversed() {
            let q = r % lead[d]; r /= lead[d]
            ia += q * strideA[d]; ib += q * strideB[d]
        }
        return (ia, ib)
    }
}
