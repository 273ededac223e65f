import SRCore

extension Kernels {
    /// Bilinear resampling of every plane of an `[N, C, h, w]` tensor to `height × width`
    /// (`Bilinear.resize`: torch `interpolate(mode="bilinear", align_corners=False)`).
    public static func resizeBilinear(_ t: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        if h == height && w == width { return t }
        let out = Tensor(uninitialized: [n, c, height, width])
        Bilinear.resize(UnsafePointer(t.pointer), planes: n * c, h: h, w: w, into: out.pointer, height: height, width: width)
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
