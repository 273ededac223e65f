import SRCore

extension Kernels {
    /// Max-pooling gradient: each output's gradient goes to the first maximum of its window
    /// (scan order, as PyTorch picks it).
    public static func maxPool2dBackward(_ dy: Tensor, input x: Tensor, _ a: Pool2DAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let dx = Tensor(zeros: x.shape)
        Parallel.forEach(n * c, minChunk: 4) { range in
            for nc in range {
                let p = x.pointer + nc * h * w, q = dx.pointer + nc * h * w, g = dy.pointer + nc * ho * wo
                for oy in 0..<ho {
                    let ys = oy * a.stride[0] - a.pads[0]
                    let y0 = max(ys, 0), y1 = min(ys + a.kernel[0], h)
                    for ox in 0..<wo {
                        let xs = ox * a.stride[1] - a.pads[1]
                        let x0 = max(xs, 0), x1 = min(xs + a.kernel[1], w)
                        var best = -Float.infinity, at = -1
                        for y in y0..<y1 { for xx in x0..<x1 where p[y * w + xx] > best { best = p[y * w + xx]; at = y * w + xx } }
                        if at >= 0 { q[at] += g[oy * wo + ox] }
                    }
                }
            }
        }
        return dx
    }

    /// Average-pooling gradient: each output's gradient spread evenly over its window
    /// (the same divisor as the forward pass).
    public static func avgPool2dBackward(_ dy: Tensor, inShape: [Int], _ a: Pool2DAttributes) -> Tensor {
        let (n, c, h, w) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let dx = Tensor(zeros: inShape)
        Parallel.forEach(n * c, minChunk: 4) { range in
            for nc in range {
                let q = dx.pointer + nc * h * w, g = dy.pointer + nc * ho * wo
                for oy in 0..<ho {
                    let ys = oy * a.stride[0] - a.pads[0], ye = min(ys + a.kernel[0], h + a.pads[2])
                    let y0 = max(ys, 0), y1 = min(ye, h)
                    for ox in 0..<wo {
                        let xs = ox * a.stride[1] - a.pads[1], xe = min(xs + a.kernel[1], w + a.pads[3])
                        let x0 = max(xs, 0), x1 = min(xe, w)
                        let count = a.countIncludePad ? (ye - ys) * (xe - xs) : (y1 - y0) * (x1 - x0)
                        guard count > 0 else { continue }
                        let v = g[oy * wo + ox] / Float(count)
                        for y in y0..<y1 { for xx in x0..<x1 { q[y * w + xx] += v } }
                    }
                }
            }
        }
        return dx
    }

    /// Global average/max pooling gradients (`max`: to the first maximum of each plane).
    public static func globalPoolBackward(_ dy: Tensor, input x: Tensor, max: Bool) -> Tensor {
        let plane = x.shape[2] * x.shape[3]
        let dx = Tensor(zeros: x.shape)
        for nc in 0..<(x.shape[0] * x.shape[1]) {
            let p = x.pointer + nc * plane, q = dx.pointer + nc * plane, g = dy.pointer[nc]
            if max {
                var at = 0
                for i in 1..<Swift.max(plane, 1) where p[i] > p[at] { at = i }
                q[at] = g
            } else {
                for i in 0..<plane { q[i] = g / Float(plane) }
            }
        }
        return dx
    }
}
