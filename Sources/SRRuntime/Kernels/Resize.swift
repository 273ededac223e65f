import SRCore

extension Kernels {
    /// Bilinear resampling of every plane of an `[N, C, h, w]` tensor to `height × width`
    /// with half-pixel centres (torch `interpolate(mode="bilinear", align_corners=False)`).
    public static func resizeBilinear(_ t: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        if h == height && w == width { return t }
        let out = Tensor(uninitialized: [n, c, height, width])
        let sy = Float(h) / Float(height), sx = Float(w) / Float(width)
        for p in 0..<(n * c) {
            let src = t.pointer + p * h * w, dst = out.pointer + p * height * width
            for y in 0..<height {
                let fy = max((Float(y) + 0.5) * sy - 0.5, 0)
                let y0 = min(Int(fy), h - 1), y1 = min(y0 + 1, h - 1), ay = fy - Float(y0)
                for x in 0..<width {
                    let fx = max((Float(x) + 0.5) * sx - 0.5, 0)
                    let x0 = min(Int(fx), w - 1), x1 = min(x0 + 1, w - 1), ax = fx - Float(x0)
                    let top = src[y0 * w + x0] * (1 - ax) + src[y0 * w + x1] * ax
                    let bottom = src[y1 * w + x0] * (1 - ax) + src[y1 * w + x1] * ax
                    dst[y * width + x] = top * (1 - ay) + bottom * ay
                }
            }
        }
        return out
    }

    /// Nearest-neighbour resampling (torch `interpolate(mode="nearest")`: source index
    /// `⌊dst · in/out⌋`), as Captum's `GuidedGradCam` upsamples.
    public static func resizeNearest(_ t: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        if h == height && w == width { return t }
        let out = Tensor(uninitialized: [n, c, height, width])
        for p in 0..<(n * c) {
            let src = t.pointer + p * h * w, dst = out.pointer + p * height * width
            for y in 0..<height {
                let sy = min(Int(Float(y) * Float(h) / Float(height)), h - 1)
                for x in 0..<width { dst[y * width + x] = src[sy * w + min(Int(Float(x) * Float(w) / Float(width)), w - 1)] }
            }
        }
        return out
    }
}
