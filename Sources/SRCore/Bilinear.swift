/// Bilinear resampling with half-pixel centres and no antialiasing (torch
/// `interpolate(mode="bilinear", align_corners=False)`): output pixel `y` samples the input
/// at `max((y + ½)·h/H − ½, 0)`, its neighbours clamped to the edge. One implementation for
/// the graph's Resize kernel (Float) and context-aware saliency (Double).
public enum Bilinear {
    /// Resamples `planes` planes of `h × w` at `source` into `height × width` at `destination`.
    @inlinable
    public static func resize<T: BinaryFloatingPoint>(_ source: UnsafePointer<T>, planes: Int, h: Int, w: Int,
                                                      into destination: UnsafeMutablePointer<T>, height: Int, width: Int) {
        let sy = T(h) / T(height), sx = T(w) / T(width)
        for p in 0..<planes {
            let src = source + p * h * w, dst = destination + p * height * width
            for y in 0..<height {
                let fy = max((T(y) + 0.5) * sy - 0.5, 0)
                let y0 = min(Int(fy), h - 1), y1 = min(y0 + 1, h - 1), ay = fy - T(y0)
                for x in 0..<width {
                    let fx = max((T(x) + 0.5) * sx - 0.5, 0)
                    let x0 = min(Int(fx), w - 1), x1 = min(x0 + 1, w - 1), ax = fx - T(x0)
                    let top = src[y0 * w + x0] * (1 - ax) + src[y0 * w + x1] * ax
                    let bottom = src[y1 * w + x0] * (1 - ax) + src[y1 * w + x1] * ax
                    dst[y * width + x] = top * (1 - ay) + bottom * ay
                }
            }
        }
    }
}
