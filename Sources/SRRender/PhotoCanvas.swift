import SRImage

/// A heatmap drawn at the original photo's size: the network saw a resized, centre-cropped
/// part of the photo; the map goes back onto that part, and the rest of the photo (which
/// the network never saw) is shown in grey at half brightness.
public enum PhotoCanvas {
    /// `normalized` (`height × width`, values in [0, 1]) over `crop` (the input's rectangle
    /// in the photo, `Preprocessing.cropInPhoto`), sampled bilinearly with pixel centres at
    /// half-pixel offsets; inside the crop the colour is blended over the photo with
    /// `alpha` (1: the heatmap alone).
    public static func draw(_ normalized: [Float], width: Int, height: Int, colormap: Colormap, photo: RGBImage,
                            crop: (x: Double, y: Double, width: Double, height: Double), alpha: Float) -> RGBImage {
        var out = photo
        let sx = Double(width) / crop.width, sy = Double(height) / crop.height
        for py in 0..<photo.height {
            // The map's coordinates of this photo pixel's centre.
            let my = (Double(py) + 0.5 - crop.y) * sy - 0.5
            let inRows = Double(py) + 0.5 >= crop.y && Double(py) + 0.5 <= crop.y + crop.height
            let y0 = min(max(Int(my.rounded(.down)), 0), height - 1), y1 = min(y0 + 1, height - 1)
            let fy = Float(min(max(my - Double(y0), 0), 1))
            for px in 0..<photo.width {
                let i = (py * photo.width + px) * 3
                let mx = (Double(px) + 0.5 - crop.x) * sx - 0.5
                guard inRows, Double(px) + 0.5 >= crop.x, Double(px) + 0.5 <= crop.x + crop.width else {
                    let grey = (Int(photo.pixels[i]) * 299 + Int(photo.pixels[i + 1]) * 587 + Int(photo.pixels[i + 2]) * 114) / 2000
                    out.pixels[i] = UInt8(grey); out.pixels[i + 1] = UInt8(grey); out.pixels[i + 2] = UInt8(grey)
                    continue
                }
                let x0 = min(max(Int(mx.rounded(.down)), 0), width - 1), x1 = min(x0 + 1, width - 1)
                let fx = Float(min(max(mx - Double(x0), 0), 1))
                let top = normalized[y0 * width + x0] * (1 - fx) + normalized[y0 * width + x1] * fx
                let bottom = normalized[y1 * width + x0] * (1 - fx) + normalized[y1 * width + x1] * fx
                let c = colormap.color(top * (1 - fy) + bottom * fy)
                for k in 0..<3 {
                    out.pixels[i + k] = UInt8(min(max((alpha * Float(c[k]) + (1 - alpha) * Float(photo.pixels[i + k])).rounded(), 0), 255))
                }
            }
        }
        return out
    }
}
