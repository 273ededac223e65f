import SRCore

/// How map values become [0, 1] before colouring.
public enum Normalization: String, Sendable, CaseIterable {
    /// 0 → the middle of the colour map, ±max|v| → its ends (LRP).
    case symmetric
    /// |v| scaled by its maximum (gradients).
    case absolute
    /// minimum → 0, maximum → 1.
    case unaligned
}

/// Turns a 2-D map into a colour image, optionally blended over the input image.
public enum Heatmap {
    /// `[N, C, H, W]` → one `H × W` map per image: the sum over channels.
    public static func channelSum(_ t: Tensor, image n: Int) -> [Float] {
        let c = t.shape[1], plane = t.shape[2] * t.shape[3]
        var out = [Float](repeating: 0, count: plane)
        for ch in 0..<c {
            let p = t.pointer + (n * c + ch) * plane
            for i in 0..<plane { out[i] += p[i] }
        }
        return out
    }

    /// Values mapped to [0, 1] (zennit `imgify` bounds: symmetric uses ±max|v|).
    public static func normalize(_ v: [Float], _ mode: Normalization, clipPercentile: Float? = nil) -> [Float] {
        var values = v
        if mode == .absolute { values = values.map { abs($0) } }
        var hi = values.max() ?? 0, lo = values.min() ?? 0
        if let p = clipPercentile, !values.isEmpty {
            let sorted = values.map { abs($0) }.sorted()
            let cut = sorted[min(Int(Float(sorted.count - 1) * p / 100), sorted.count - 1)]
            hi = min(hi, cut); lo = max(lo, -cut)
        }
        switch mode {
        case .symmetric:
            let m = max(abs(hi), abs(lo))
            return values.map { m > 0 ? (min(max($0, -m), m) + m) / (2 * m) : 0.5 }
        case .absolute:
            return values.map { hi > 0 ? min($0, hi) / hi : 0 }
        case .unaligned:
            return values.map { hi > lo ? (min(max($0, lo), hi) - lo) / (hi - lo) : 0 }
        }
    }

    /// Colours a normalised `height × width` map; bilinear upsampling to `outWidth × outHeight`
    /// (align-corners off, as torch's `interpolate`) when sizes differ.
    public static func render(_ normalized: [Float], width: Int, height: Int, colormap: Colormap,
                              outWidth: Int? = nil, outHeight: Int? = nil) -> RGBImage {
        let ow = outWidth ?? width, oh = outHeight ?? height
        let values = (ow == width && oh == height) ? normalized
            : upsample(normalized, width: width, height: height, outWidth: ow, outHeight: oh)
        var pixels = [UInt8](repeating: 0, count: ow * oh * 3)
        for i in 0..<(ow * oh) {
            let c = colormap.color(values[i])
            pixels[i * 3] = c[0]; pixels[i * 3 + 1] = c[1]; pixels[i * 3 + 2] = c[2]
        }
        return RGBImage(width: ow, height: oh, pixels: pixels)
    }

    /// Bilinear resampling with half-pixel centres.
    public static func upsample(_ v: [Float], width: Int, height: Int, outWidth: Int, outHeight: Int) -> [Float] {
        var out = [Float](repeating: 0, count: outWidth * outHeight)
        let sx = Float(width) / Float(outWidth), sy = Float(height) / Float(outHeight)
        for y in 0..<outHeight {
            let fy = max((Float(y) + 0.5) * sy - 0.5, 0)
            let y0 = min(Int(fy), height - 1), y1 = min(y0 + 1, height - 1), ay = fy - Float(y0)
            for x in 0..<outWidth {
                let fx = max((Float(x) + 0.5) * sx - 0.5, 0)
                let x0 = min(Int(fx), width - 1), x1 = min(x0 + 1, width - 1), ax = fx - Float(x0)
                let top = v[y0 * width + x0] * (1 - ax) + v[y0 * width + x1] * ax
                let bottom = v[y1 * width + x0] * (1 - ax) + v[y1 * width + x1] * ax
                out[y * outWidth + x] = top * (1 - ay) + bottom * ay
            }
        }
        return out
    }

    /// `alpha·heat + (1 − alpha)·base`, pixel by pixel (same sizes).
    public static func overlay(_ heat: RGBImage, on base: RGBImage, alpha: Float) -> RGBImage {
        var out = heat
        for i in 0..<min(heat.pixels.count, base.pixels.count) {
            out.pixels[i] = UInt8(min(max((alpha * Float(heat.pixels[i]) + (1 - alpha) * Float(base.pixels[i])).rounded(), 0), 255))
        }
        return out
    }
}
