import Foundation
import SRCore

extension Kernels {
    /// LRN across channels: `y = x / (k + α/n · Σ_{c'} x²)^β`, the sum over channels
    /// `c − ⌊(n−1)/2⌋ … c + ⌈(n−1)/2⌉`; within channel (Caffe): the mean of x² over an
    /// n×n window padded by ⌊(n−1)/2⌋, `y = x · (k + α·mean)^−β`.
    public static func lrn(_ x: Tensor, _ a: LRNAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let plane = h * w
        let out = Tensor(uninitialized: x.shape)
        let before = (a.size - 1) / 2, after = a.size - 1 - before
        Parallel.forEach(n * c, minChunk: 2) { range in
            var acc = [Float](repeating: 0, count: plane)
            for nc in range {
                let img = nc / c, ch = nc % c
                let src = x.pointer + nc * plane, dst = out.pointer + nc * plane
                if a.acrossChannels {
                    for i in 0..<plane { acc[i] = 0 }
                    for cc in max(ch - before, 0)...min(ch + after, c - 1) {
                        let p = x.pointer + (img * c + cc) * plane
                        for i in 0..<plane { acc[i] += p[i] * p[i] }
                    }
                    let s = a.alpha / Float(a.size)
                    for i in 0..<plane { dst[i] = src[i] / powf(a.k + s * acc[i], a.beta) }
                } else {
                    let pad = before
                    for y in 0..<h {
                        for xx in 0..<w {
                            let ys = y - pad, xs = xx - pad
                            let ye = min(ys + a.size, h + pad), xe = min(xs + a.size, w + pad)
                            var s: Float = 0
                            for yy in max(ys, 0)..<min(ye, h) {
                                for x2 in max(xs, 0)..<min(xe, w) { let v = src[yy * w + x2]; s += v * v }
                            }
                            let mean = s / Float((ye - ys) * (xe - xs))
                            dst[y * w + xx] = src[y * w + xx] * powf(a.k + a.alpha * mean, -a.beta)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Affine along one axis, `y = w[c]·x + b[c]` (w, b of length C or 1; `c` the index on
    /// `axis`, the channel of NCHW data by default), then `activation` on each plane while it
    /// is in cache (the executor's batch-norm → ReLU fusion: DenseNet's pre-activations).
    /// `into` (of x's shape, possibly x itself) receives the result instead of a new tensor.
    public static func channelAffine(_ x: Tensor, weight: [Float], bias: [Float], axis: Int = 1,
                                     activation: FusedActivation? = nil, into: Tensor? = nil) -> Tensor {
        let outer = x.shape.prefix(axis).reduce(1, *), c = x.shape[axis]
        let plane = x.shape.suffix(from: axis + 1).reduce(1, *)
        let out = into ?? Tensor(uninitialized: x.shape)
        Parallel.forEach(outer * c, minChunk: plane == 1 ? 4096 : 16) { range in
            for nc in range {
                let ch = nc % c
                let wv = weight.count == 1 ? weight[0] : weight[ch]
                let bv = bias.isEmpty ? 0 : (bias.count == 1 ? bias[0] : bias[ch])
                let src = x.pointer + nc * plane, dst = out.pointer + nc * plane
                for i in 0..<plane { dst[i] = wv * src[i] + bv }
                activation?.apply(dst, dst, count: plane)
            }
        }
        return out
    }

    /// Layer normalisation over the last `count/rows` elements of each row:
    /// `(x − μ)/√(σ² + ε)·scale + bias` (μ, σ² in float64, the population variance).
    /// Eight elements at a time: the normalised value rounded to float32, then `· scale + bias`
    /// (ones and zeros when absent, which give the same bits), one operation each.
    public static func layerNorm(_ x: Tensor, axis: Int, epsilon: Float, scale: Tensor?, bias: Tensor?) -> Tensor {
        let inner = x.shape.suffix(from: axis).reduce(1, *), rows = x.count / max(inner, 1)
        let out = Tensor(uninitialized: x.shape)
        let scale = scale ?? { let t = Tensor(uninitialized: [inner]); t.pointer.update(repeating: 1, count: inner); return t }()
        let bias = bias ?? Tensor(zeros: [inner])
        let (sc, bi) = (scale.pointer, bias.pointer)
        Parallel.forEach(rows, minChunk: max(1, 2048 / max(inner, 1))) { range in
            for r in range {
                let src = x.pointer + r * inner, dst = out.pointer + r * inner
                let (mean, invStd) = rowStatistics(src, inner, epsilon)
                let (m, s) = (SIMD4<Double>(repeating: mean), SIMD4<Double>(repeating: invStd))
                var i = 0
                while i + 8 <= inner {
                    let v = (src + i).lanes()
                    let normal = SIMD8<Float>(lowHalf: SIMD4<Float>((SIMD4<Double>(v.lowHalf) - m) * s),
                                              highHalf: SIMD4<Float>((SIMD4<Double>(v.highHalf) - m) * s))
                    (dst + i).setLanes(normal * (sc + i).lanes() + (bi + i).lanes())
                    i += 8
                }
                while i < inner {
                    let v = Float((Double(src[i]) - mean) * invStd)
                    dst[i] = v * sc[i] + bi[i]
                    i += 1
                }
            }
        }
        return out
    }

    /// The input gradient of `layerNorm`: with `ĝ = g·scale` and `x̂` the normalised row,
    /// `dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/σ`.
    public static func layerNormBackward(_ g: Tensor, input x: Tensor, axis: Int, epsilon: Float, scale: Tensor?) -> Tensor {
        let inner = x.shape.suffix(from: axis).reduce(1, *), rows = x.count / max(inner, 1)
        let out = Tensor(uninitialized: x.shape)
        Parallel.forEach(rows, minChunk: max(1, 2048 / max(inner, 1))) { range in
            for r in range {
                let src = x.pointer + r * inner, gp = g.pointer + r * inner, dst = out.pointer + r * inner
                let (mean, invStd) = rowStatistics(src, inner, epsilon)
                var sumG = 0.0, sumGX = 0.0
                for i in 0..<inner {
                    let gh = Double(gp[i]) * Double(scale?.pointer[i] ?? 1)
                    sumG += gh; sumGX += gh * (Double(src[i]) - mean) * invStd
                }
                let n = Double(inner)
                for i in 0..<inner {
                    let gh = Double(gp[i]) * Double(scale?.pointer[i] ?? 1)
                    let xh = (Double(src[i]) - mean) * invStd
                    dst[i] = Float((gh - sumG / n - xh * sumGX / n) * invStd)
                }
            }
        }
        return out
    }

    /// Mean and `1/√(σ² + ε)` of `count` floats, two-pass in float64: eight floats at a time
    /// into two four-lane float64 sums (a sum in one register waits on each add: ConvNeXt's
    /// layer norms spent 6 % of its forward pass there), the rest one by one.
    static func rowStatistics(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ epsilon: Float) -> (Double, Double) {
        var (a, b) = (SIMD4<Double>(), SIMD4<Double>())
        var i = 0
        while i + 8 <= count {
            let v = (p + i).lanes()
            a += SIMD4<Double>(v.lowHalf); b += SIMD4<Double>(v.highHalf)
            i += 8
        }
        var sum = (a + b).sum()
        while i < count { sum += Double(p[i]); i += 1 }
        let mean = sum / Double(max(count, 1))
        (a, b) = (SIMD4<Double>(), SIMD4<Double>())
        let m = SIMD4<Double>(repeating: mean)
        i = 0
        while i + 8 <= count {
            let v = (p + i).lanes()
            let (d, e) = (SIMD4<Double>(v.lowHalf) - m, SIMD4<Double>(v.highHalf) - m)
            a += d * d; b += e * e
            i += 8
        }
        var sq = (a + b).sum()
        while i < count { let d = Double(p[i]) - mean; sq += d * d; i += 1 }
        return (mean, 1 / (sq / Double(max(count, 1)) + Double(epsilon)).squareRoot())
    }

    /// Inference batch norm as a per-channel affine: `w = γ/√(var + ε)`, `b = β − mean·w`.
    public static func batchNorm(_ x: Tensor, mean: Tensor, variance: Tensor, scale: Tensor?, bias: Tensor?,
                                 epsilon: Float, activation: FusedActivation? = nil, into: Tensor? = nil) -> Tensor {
        let c = x.shape[1]
        var w = [Float](repeating: 0, count: c), b = [Float](repeating: 0, count: c)
        for i in 0..<c {
            w[i] = (scale?.pointer[i] ?? 1) / (variance.pointer[i] + epsilon).squareRoot()
            b[i] = (bias?.pointer[i] ?? 0) - mean.pointer[i] * w[i]
        }
        return channelAffine(x, weight: w, bias: b, activation: activation, into: into)
    }
}
