/// Pillow's bilinear resize (`Image.resize(…, BILINEAR)`, what torchvision's `Resize` does
/// on PIL images), reproduced to the bit: a triangle filter widened by the scale factor when
/// shrinking (antialiasing), 22-bit fixed-point weights, a horizontal pass rounded to 8 bits,
/// then a vertical pass (Pillow `libImaging/Resample.c`).
public enum Resize {
    private static let precisionBits = 32 - 8 - 2

    public static func bilinear(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        if width == image.width && height == image.height { return image }
        var img = image
        if width != image.width {
            let (bounds, weights, k) = coefficients(inSize: image.width, outSize: width)
            var out = [UInt8](repeating: 0, count: width * image.height * 3)
            for y in 0..<image.height {
                for x in 0..<width {
                    let (x0, n) = (bounds[x * 2], bounds[x * 2 + 1])
                    for c in 0..<3 {
                        var s = 1 << (precisionBits - 1)
                        for i in 0..<n { s += Int(image.pixels[(y * image.width + x0 + i) * 3 + c]) * weights[x * k + i] }
                        out[(y * width + x) * 3 + c] = clip8(s)
                    }
                }
            }
            img = RGBImage(width: width, height: image.height, pixels: out)
        }
        if height != img.height {
            let (bounds, weights, k) = coefficients(inSize: img.height, outSize: height)
            var out = [UInt8](repeating: 0, count: img.width * height * 3)
            for y in 0..<height {
                let (y0, n) = (bounds[y * 2], bounds[y * 2 + 1])
                for x in 0..<img.width {
                    for c in 0..<3 {
                        var s = 1 << (precisionBits - 1)
                        for i in 0..<n { s += Int(img.pixels[((y0 + i) * img.width + x) * 3 + c]) * weights[y * k + i] }
                        out[(y * img.width + x) * 3 + c] = clip8(s)
                    }
                }
            }
            img = RGBImage(width: img.width, height: height, pixels: out)
        }
        return img
    }

    /// Nearest-neighbour scaling (for enlarging small maps into tiles).
    public static func nearest(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let sy = min(y * image.height / max(height, 1), image.height - 1)
            for x in 0..<width {
                let sx = min(x * image.width / max(width, 1), image.width - 1)
                for c in 0..<3 { out[(y * width + x) * 3 + c] = image.pixels[(sy * image.width + sx) * 3 + c] }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    @inline(__always) private static func clip8(_ s: Int) -> UInt8 {
        UInt8(clamping: s >> precisionBits)
    }

    /// Per output pixel: first input index, tap count, and fixed-point weights
    /// (`precompute_coeffs` + `normalize_coeffs_8bpc`).
    private static func coefficients(inSize: Int, outSize: Int) -> ([Int], [Int], Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        let k = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var weights = [Int](repeating: 0, count: outSize * k)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var w = [Double](repeating: 0, count: k)
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                w[x] = t < 1 ? 1 - t : 0
                total += w[x]
            }
            for x in 0..<max(xmax, 0) {
                let v = total != 0 ? w[x] / total : w[x]
                let f = v * Double(1 << precisionBits)
                weights[xx * k + x] = v < 0 ? Int(-0.5 + f) : Int(0.5 + f)
            }
            bounds[xx * 2] = xmin
            bounds[xx * 2 + 1] = max(xmax, 0)
        }
        return (bounds, weights, k)
    }
}
