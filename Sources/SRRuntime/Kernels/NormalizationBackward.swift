import Foundation
import SRCore

extension Kernels {
    /// LRN gradient (across channels): with `d_i = k + α/n·Σ_{j∈N(i)} x_j²`,
    /// `dX_j = dY_j·d_j^−β − (2αβ/n)·x_j·Σ_{i: j∈N(i)} dY_i·x_i·d_i^(−β−1)`; within channel
    /// the same over the spatial window (`α` not divided by n², the mean is in `d`).
    public static func lrnBackward(_ dy: Tensor, input x: Tensor, _ a: LRNAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let plane = h * w
        let before = (a.size - 1) / 2, after = a.size - 1 - before
        let dx = Tensor(zeros: x.shape)
        // d for every element, then t_i = dY_i·x_i·d_i^(−β−1)
        let d = Tensor(uninitialized: x.shape), t = Tensor(uninitialized: x.shape)
        if a.acrossChannels {
            let s = a.alpha / Float(a.size)
            for img in 0..<n { for ch in 0..<c {
                let base = (img * c + ch) * plane
                for i in 0..<plane {
                    var acc: Float = 0
                    for cc in max(ch - before, 0)...min(ch + after, c - 1) {
                        let v = x.pointer[(img * c + cc) * plane + i]; acc += v * v
                    }
                    d.pointer[base + i] = a.k + s * acc
                }
            } }
            for i in 0..<x.count {
                t.pointer[i] = dy.pointer[i] * x.pointer[i] * powf(d.pointer[i], -a.beta - 1)
                dx.pointer[i] = dy.pointer[i] * powf(d.pointer[i], -a.beta)
            }
            let f = 2 * s * a.beta
            for img in 0..<n { for ch in 0..<c {
                let base = (img * c + ch) * plane
                // channel ch is in N(i) for i ∈ [ch − after, ch + before]
                for i in 0..<plane {
                    var acc: Float = 0
                    for ci in max(ch - after, 0)...min(ch + before, c - 1) { acc += t.pointer[(img * c + ci) * plane + i] }
                    dx.pointer[base + i] -= f * x.pointer[base + i] * acc
                }
            } }
        } else {
            let pad = before
            for nc in 0..<(n * c) {
                let p = x.pointer + nc * plane
                for y in 0..<h { for xx in 0..<w {
                    let ys = y - pad, xs = xx - pad
                    let ye = min(ys + a.size, h + pad), xe = min(xs + a.size, w + pad)
                    var s: Float = 0
                    for yy in max(ys, 0)..<min(ye, h) { for x2 in max(xs, 0)..<min(xe, w) { s += p[yy * w + x2] * p[yy * w + x2] } }
                    let count = Float((ye - ys) * (xe - xs))
                    let i = nc * plane + y * w + xx
                    d.pointer[i] = a.k + a.alpha * s / count
                    t.pointer[i] = dy.pointer[i] * x.pointer[i] * powf(d.pointer[i], -a.beta - 1) * 2 * a.alpha * a.beta / count
                    dx.pointer[i] = dy.pointer[i] * powf(d.pointer[i], -a.beta)
                } }
                // Every window containing pixel j contributes t_i·x_j.
                for y in 0..<h { for xx in 0..<w {
                    let i = nc * plane + y * w + xx
                    let ys = y - pad, xs = xx - pad
                    for yy in max(ys, 0)..<min(ys + a.size, h) { for x2 in max(xs, 0)..<min(xs + a.size, w) {
                        dx.pointer[nc * plane + yy * w + x2] -= t.pointer[i] * x.pointer[nc * plane + yy * w + x2]
                    } }
                } }
            }
        }
        return dx
    }
}
