import ArgumentParser
import SRExplain
import SRRender
import SRImage

/// How maps are drawn (explain, render, batch, saliency); unset options take the method's defaults.
struct StyleArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Colour map, or a spec like 00f,80:fff,f00 (default: the method's; srtool colormaps).", valueName: "name"))
    var cmap: ColormapChoice?

    @Option(help: ArgumentHelp("Normalisation: symmetric puts 0 at the centre (default: the method's).", valueName: "mode"))
    var normalization: Normalization?

    @Option(help: ArgumentHelp("Channel reduction (default: the method's).", valueName: "mode"))
    var reduce: Heatmap.Reduction?

    @Option(name: .customLong("clip-percentile"), help: ArgumentHelp("Clip |values| above this percentile before normalising (e.g. 99).", visibility: .hidden))
    var clipPercentile: Float?

    func validate() throws {
        if let p = clipPercentile, !(p > 0 && p <= 100) { throw ValidationError("--clip-percentile must lie in (0, 100]") }
    }

    /// The reduction, normalisation, colour map and clipping: the options, else `method`'s defaults.
    func style(for method: MethodChoice) throws -> HeatmapStyle {
        var style = try HeatmapStyle.defaults(of: method.method)
        style.reduction = reduce ?? style.reduction
        style.normalization = normalization ?? style.normalization
        style.colormap = cmap?.colormap ?? style.colormap
        style.clipPercentile = clipPercentile
        return style
    }
}

/// What a map is drawn on for an image input (explain, saliency): nothing, the network's
/// view of the photo, or the photo itself.
struct CanvasArguments: ParsableArguments {
    @Flag(help: "Blend the heatmap over the image (drawn at the photo's size: see --canvas).")
    var overlay = false

    @Option(help: "Heatmap opacity with --overlay (default 0.6).")
    var alpha: Float?

    @Option(help: ArgumentHelp("Picture size: input (the network's input), photo (the original image, the crop mapped back, the rest in grey) (default: photo with --overlay, else input).", valueName: "size"))
    var canvas: Canvas?

    enum Canvas: String, ExpressibleByArgument, CaseIterable { case input, photo }

    func validate() throws {
        if let alpha { guard alpha >= 0 && alpha <= 1 else { throw ValidationError("--alpha must lie in [0, 1]") } }
        if alpha != nil && !overlay { Log.warning("--alpha is ignored without --overlay") }
    }

    var opacity: Float { alpha ?? 0.6 }

    /// Whether the picture is drawn at the photo's size.
    var onPhoto: Bool { (canvas ?? (overlay ? .photo : .input)) == .photo }

    /// What a map of `height × width` is drawn on for `photo`: the photo (`--canvas photo`),
    /// the network's view of it (`--overlay`), or nothing.
    func canvas(photo: RGBImage, preprocessing: Preprocessing, height h: Int, width w: Int) throws -> HeatmapCanvas {
        if onPhoto {
            let crop = preprocessing.cropInPhoto(imageWidth: photo.width, imageHeight: photo.height, height: h, width: w)
            return .photo(photo, crop: crop, alpha: overlay ? opacity : 1)
        }
        guard overlay else { return .none }
        return .image(try preprocessing.croppedImage(from: photo, height: h, width: w), alpha: opacity)
    }
}

extension HeatmapStyle {
    /// How `method`'s maps are drawn unless told otherwise (its reduction, normalisation and colour map).
    static func defaults(of method: Method) throws -> HeatmapStyle {
        HeatmapStyle(reduction: Heatmap.Reduction(rawValue: method.reduction) ?? .sum,
                     normalization: Normalization(rawValue: method.normalization) ?? .symmetric,
                     colormap: try Colormap.named(method.colormap))
    }
}
