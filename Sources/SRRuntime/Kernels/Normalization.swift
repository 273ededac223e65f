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

    /// Per-channel affine `y = w[c]·x + b[c]` (w, b of length C or 1) over an N×C×… tensor.
    public static func channelAffine(_ x: Tensor, weight: [Float], bias: [Float]) -> Tensor {
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(n * c, 1)
        let out = Tensor(uninitialized: x.shape)
        Parallel.forEach(n * c, minChunk: 16) { range in
            for nc in range {
                let ch = nc % c
                let wv = weight.count == 1 ? weight[0] : weight[ch]
                let bv = bias.isEmpty ? 0 : (bias.count == 1 ? bias[0] : bias[ch])
                let src = x.pointer + nc * plane, dst = out.pointer + nc * plane
                for i in 0..<plane { dst[i] = wv * src[i] + bv }
            }
        }
        return out
    }

    /// Inference batch norm as a per-channel affine: `w = γ/√(var + ε)`, `b = β − mean·w`.
    public static func batchNorm(_ x: Tensor, mean: Tensor, variance: Tensor, scale: Tensor?, bias: Tensor?,
                                 epsilon: Float) -> Tensor {
        let c = x.shape[1]
        var w = [Float](repeating: 0, count: c), b = [Float](repeating: 0, count: c)
        for i in 0..<c {
            w[i] = (scale?.pointer[i] ?? 1) / (variance.pointer[i] + epsilon).squareRoot()
            b[i] = (bias?.pointer[i] ?? 0) - mean.pointer[i] * w[i]
        }
        return channelAffine(x, weight: w, bias: b)
    }
}
