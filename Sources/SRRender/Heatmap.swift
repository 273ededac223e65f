import SRCore
import SRImage

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
    /// How the channels of an `[N, C, H, W]` map become one `H × W` map.
    public enum Reduction: String, Sendable, CaseIterable {
        /// Σ_c (relevance, signed attributions).
        case sum
        /// max_c |v| (gradients, Simonyan et al.).
        case maxAbs = "max-abs"
        /// √Σ_c v².
        case l2
    }

    /// Image `n`'s channels reduced to one `H × W` map.
    public static func reduce(_ t: Tensor, image n: Int, _ r: Reduction) -> [Float] {
        let c = t.shape[1], plane = t.shape[2] * t.shape[3]
        var out = [Float](repeating: 0, count: plane)
        for ch in 0..<c {
            let p = t.pointer + (n * c + ch) * plane
            for i in 0..<plane {
                switch r {
                case .sum: out[i] += p[i]
                case .maxAbs: out[i] = max(out[i], abs(p[i]))
                case .l2: out[i] += p[i] * p[i]
                }
            }
        }
        return r == .l2 ? out.map { $0.squareRoot() } : out
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

    /// Colours a normalised `height × width` map.
    public static func render(_ normalized: [Float], width: Int, height: Int, colormap: Colormap) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let c = colormap.color(normalized[i])
            pixels[i * 3] = c[0]; pixels[i * 3 + 1] = c[1]; pixels[i * 3 + 2] = c[2]
        }
        return RGBImage(width: width, height: height, pixels: pixels)
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
