import Foundation
import SRCore

/// Direct-index twins of the N-D ops (transpose, slice, reduce, softmax, layer norm, element-wise
/// functions): every output element computed from its own multi-index, in float64.
extension NaiveKernels {
    /// The multi-index of flat position `i` in `shape`.
    public static func multiIndex(_ i: Int, _ shape: [Int]) -> [Int] {
        var r = i
        var index = [Int](repeating: 0, count: shape.count)
        for d in shape.indices.reversed() { index[d] = r % shape[d]; r /= shape[d] }
        return index
    }

    /// The flat position of `index` in `shape`.
    public static func flat(_ index: [Int], _ shape: [Int]) -> Int {
        zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
    }

    public static func transpose(_ x: Tensor, perm: [Int]) -> Tensor {
        let outShape = perm.map { x.shape[$0] }
        let out = Tensor(zeros: outShape)
        for i in 0..<out.count {
            let o = multiIndex(i, outShape)
            var src = [Int](repeating: 0, count: perm.count)
            for (k, p) in perm.enumerated() { src[p] = o[k] }
            out.pointer[i] = x.pointer[flat(src, x.shape)]
        }
        return out
    }

    public static func slice(_ x: Tensor, axis: Int, start: Int, end: Int, step: Int) -> Tensor {
        var outShape = x.shape
        outShape[axis] = stride(from: start, to: end, by: step).underestimatedCount
        let out = Tensor(zeros: outShape)
        for i in 0..<out.count {
            var idx = multiIndex(i, outShape)
            idx[axis] = start + idx[axis] * step
            out.pointer[i] = x.pointer[flat(idx, x.shape)]
        }
        return out
    }

    /// Kept-dims output of a reduction.
    public static func reduce(_ x: Tensor, _ a: ReduceAttributes) -> Tensor {
        let kept = x.shape.indices.map { a.axes.contains($0) ? 1 : x.shape[$0] }
        var acc = [Double](repeating: 0, count: kept.reduce(1, *))
        var seen = [Bool](repeating: false, count: acc.count)
        for i in 0..<x.count {
            var idx = multiIndex(i, x.shape)
            for d in a.axes { idx[d] = 0 }
            let o = flat(idx, kept), v = Double(x.pointer[i])
            switch a.kind {
            case .mean, .sum: acc[o] += v
            case .max: acc[o] = seen[o] ? max(acc[o], v) : v
            case .min: acc[o] = seen[o] ? min(acc[o], v) : v
            }
            seen[o] = true
        }
        let count = Double(a.axes.map { x.shape[$0] }.reduce(1, *))
        return (try? Tensor(shape: kept, values: acc.map { Float(a.kind == .mean ? $0 / count : $0) })) ?? Tensor(zeros: kept)
    }

    /// Softmax along `axis` in float64, one position at a time.
    public static func softmax(_ x: Tensor, axis: Int) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let outer = x.shape.prefix(axis).reduce(1, *), len = x.shape[axis]
        let inner = x.shape.suffix(from: axis + 1).reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * len * inner + i
                var m = -Double.infinity
                for k in 0..<len { m = max(m, Double(x.pointer[base + k * inner])) }
                var s = 0.0
                for k in 0..<len { s += exp(Double(x.pointer[base + k * inner]) - m) }
                for k in 0..<len { out.pointer[base + k * inner] = Float(exp(Double(x.pointer[base + k * inner]) - m) / s) }
            }
        }
        return out
    }

    public static func layerNorm(_ x: Tensor, axis: Int, epsilon: Float, scale: Tensor?, bias: Tensor?) -> Tensor {
        let inner = x.shape.suffix(from: axis).reduce(1, *)
        let out = Tensor(zeros: x.shape)
        for r in 0..<(x.count / max(inner, 1)) {
            let row = (0..<inner).map { Double(x.pointer[r * inner + $0]) }
            let mean = row.reduce(0, +) / Double(inner)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(inner)
            for i in 0..<inner {
                let v = (row[i] - mean) / (variance + Double(epsilon)).squareRoot()
                out.pointer[r * inner + i] = Float(v * Double(scale?.pointer[i] ?? 1) + Double(bias?.pointer[i] ?? 0))
            }
        }
        return out
    }

    public static func unary(_ x: Tensor, _ f: UnaryFunction) -> Tensor {
        let out = Tensor(zeros: x.shape)
        for i in 0..<x.count { out.pointer[i] = Float(f.referenceValue(Double(x.pointer[i]))) }
        return out
    }
}

extension NaiveKernels {
    /// Direct-loop twin of `Kernels.matmul` (float64 sums).
    public static func matmul(_ a: Tensor, _ b: Tensor, outShape: [Int]) -> Tensor {
        let out = Tensor(zeros: outShape)
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let lead = Array(outShape.dropLast(2))
        func index(_ l: [Int], _ s: [Int]) -> Int {
            let own = Array(s.dropLast(2))
            let padded = [Int](repeating: 1, count: lead.count - own.count) + own
            return flat(l.indices.map { padded[$0] == 1 ? 0 : l[$0] }, padded)
        }
        for l in 0..<lead.reduce(1, *) {
            let li = multiIndex(l, lead)
            let (ia, ib) = (index(li, a.shape), index(li, b.shape))
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for t in 0..<k { s += Double(a.pointer[(ia * m + i) * k + t]) * Double(b.pointer[(ib * k + t) * n + j]) }
                out.pointer[(l * m + i) * n + j] = Float(s)
            } }
        }
        return out
    }
}
