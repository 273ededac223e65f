import CKernels
import Foundation
import SRCore

extension Kernels {
    /// Concatenation along `axis` (NCHW: 1 = channels). The output is a sequence of copies
    /// (per outer index, each input's run in order) that tile it; the workers split the
    /// output into equal ranges and each copies the parts of the runs in its range
    /// (DenseNet concatenates all earlier features before every layer: 12 % of its time on
    /// one core).
    public static func concat(_ inputs: [Tensor], axis: Int, outShape: [Int]) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let outer = outShape.prefix(axis).reduce(1, *)
        var runs: [(start: Int, source: UnsafeMutablePointer<Float>)] = []
        var start = 0
        for o in 0..<outer {
            for t in inputs {
                let chunk = t.shape.suffix(from: axis).reduce(1, *)
                if chunk > 0 { runs.append((start, t.pointer + o * chunk)) }
                start += chunk
            }
        }
        let total = start
        Parallel.forEach(total, minChunk: 1 << 16) { range in
            // The first run reaching into the range, then each until the range ends.
            var lo = 0, hi = runs.count
            while hi - lo > 1 { let mid = (lo + hi) / 2; if runs[mid].start <= range.lowerBound { lo = mid } else { hi = mid } }
            var i = lo
            while i < runs.count && runs[i].start < range.upperBound {
                let end = i + 1 < runs.count ? runs[i + 1].start : total
                let from = max(runs[i].start, range.lowerBound), to = min(end, range.upperBound)
                if to > from { (out.pointer + from).update(from: runs[i].source + (from - runs[i].start), count: to - from) }
                i += 1
            }
        }
        return out
    }

    /// Softmax along `axis`, max-subtracted, `eˣ` by `fastExp`; the rows (`outer`) split
    /// between workers. Along the last axis (attention) the max and the sum run eight lanes
    /// at a time; along another (`inner` > 1) each step of the axis is a contiguous run of
    /// `inner` values, handled as one vector over the run.
    public static func softmax(_ x: Tensor, axis: Int) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let outer = x.shape.prefix(axis).reduce(1, *), len = x.shape[axis]
        let inner = x.shape.suffix(from: axis + 1).reduce(1, *)
        let (src, dst) = (x.pointer, out.pointer)
        if inner == 1 {
            Parallel.forEach(outer, minChunk: max(1, 8192 / max(len, 1))) { rows in
                for o in rows {
                    let p = src + o * len, q = dst + o * len
                    var k = 0, most = SIMD8<Float>(repeating: -.infinity)
                    while k + 8 <= len { let v = (p + k).lanes(); most.replace(with: v, where: v .> most); k += 8 }
                    var m = most.max()
                    while k < len { m = Swift.max(m, p[k]); k += 1 }
                    srk_exp(p, q, len, -m)  // fastExp(p[j] − m), a vector at a time
                    k = 0
                    var sum = SIMD8<Float>.zero
                    while k + 8 <= len { sum += (q + k).lanes(); k += 8 }
                    var s = sum.sum()
                    while k < len { s += q[k]; k += 1 }
                    let r = 1 / s
                    for j in 0..<len { q[j] *= r }
                }
            }
            return out
        }
        Parallel.forEach(outer) { rows in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * inner) { space in
                guard let m = space.baseAddress else { return }
                let s = m + inner
                for o in rows {
                    let base = o * len * inner
                    m.update(repeating: -.infinity, count: inner)
                    s.update(repeating: 0, count: inner)
                    for k in 0..<len {
                        let p = src + base + k * inner
                        for i in 0..<inner { m[i] = Swift.max(m[i], p[i]) }
                    }
                    for k in 0..<len {
                        let p = src + base + k * inner, q = dst + base + k * inner
                        for i in 0..<inner { let e = SRRuntime.fastExp(p[i] - m[i]); q[i] = e; s[i] += e }
                    }
                    for i in 0..<inner { s[i] = 1 / s[i] }
                    for k in 0..<len {
                        let q = dst + base + k * inner
                        for i in 0..<inner { q[i] *= s[i] }
                    }
                }
            }
        }
        return out
    }

    /// Constant spatial padding, pads `[top, left, bottom, right]`.
    public static func pad(_ x: Tensor, pads: [Int], value: Float, outShape: [Int]) -> Tensor {
        let out = Tensor(zeros: outShape)
        let (h, w, ho, wo) = (x.shape[2], x.shape[3], outShape[2], outShape[3])
        if value != 0 { out.pointer.update(repeating: value, count: out.count) }
        for nc in 0..<x.shape[0] * x.shape[1] {
            for y in 0..<h {
                (out.pointer + nc * ho * wo + (y + pads[0]) * wo + pads[1]).update(from: x.pointer + nc * h * w + y * w, count: w)
            }
        }
        return out
    }
}
