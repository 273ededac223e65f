import SRCore
import SRImage

/// How a map becomes colours: its channels reduced to one plane, the plane normalised to
/// [0, 1] (after clipping |values| above a percentile, if asked), then coloured.
public struct HeatmapStyle: Sendable {
    public var reduction: Heatmap.Reduction
    public var normalization: Normalization
    public var colormap: Colormap
    public var clipPercentile: Float?

    public init(reduction: Heatmap.Reduction, normalization: Normalization, colormap: Colormap, clipPercentile: Float? = nil) {
        self.reduction = reduction
        self.normalization = normalization
        self.colormap = colormap
        self.clipPercentile = clipPercentile
    }
}

/// What the coloured map is drawn on.
public enum HeatmapCanvas {
    /// Nothing: the colours alone, at the map's size.
    case none
    /// An image of the map's size, blended `alpha·heat + (1 − alpha)·image`.
    case image(RGBImage, alpha: Float)
    /// The original photo, the map drawn back onto the part the network saw (`PhotoCanvas`).
    case photo(RGBImage, crop: (x: Double, y: Double, width: Double, height: Double), alpha: Float)
}

extension Heatmap {
    /// The one heatmap pipeline (explain, render, batch): image `n` of an `[N, C, h, w]` map
    /// reduced over channels, resized to `size` if given (half-pixel bilinear; resizing is
    /// linear, so reducing first gives the same plane at 1/C of the work), normalised,
    /// coloured and drawn on `canvas`.
    public static func picture(_ map: Tensor, image n: Int, style: HeatmapStyle, size: (height: Int, width: Int)? = nil,
                               on canvas: HeatmapCanvas = .none) -> RGBImage {
        var (h, w) = (map.shape[2], map.shape[3])
        var plane = reduce(map, image: n, style.reduction)
        if let size, size != (h, w) {
            var resized = [Float](repeating: 0, count: size.height * size.width)
            plane.withUnsafeBufferPointer { src in
                resized.withUnsafeMutableBufferPointer { dst in
                    guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                    Bilinear.resize(s, planes: 1, h: h, w: w, into: d, height: size.height, width: size.width)
                }
            }
            (plane, h, w) = (resized, size.height, size.width)
        }
        let values = normalize(plane, style.normalization, clipPercentile: style.clipPercentile)
        switch canvas {
        case .none:
            return render(values, width: w, height: h, colormap: style.colormap)
        case .image(let base, let alpha):
            return overlay(render(values, width: w, height: h, colormap: style.colormap), on: base, alpha: alpha)
        case .photo(let photo, let crop, let alpha):
            return PhotoCanvas.draw(values, width: w, height: h, colormap: style.colormap, photo: photo, crop: crop, alpha: alpha)
        }
    }
}
