import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRImage
import SRRender
import SRRuntime
import SRSaliency

struct Saliency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Context-aware saliency (Goferman et al.) of an image: what stands out from its context.")

    @Argument(help: "Image (PNG or JPEG); - reads it from standard input.")
    var image: String

    @Option(name: .short, help: "Write the saliency map as a PNG or JPEG at the image's size.")
    var output: String?

    @Option(help: "Write the map [H, W] as .npy (float32, 0…1).")
    var save: String?

    @OptionGroup var saliencyArguments: SaliencyArguments
    @OptionGroup var styleArguments: StyleArguments
    @OptionGroup var canvasArguments: CanvasArguments

    @Option(name: .customLong("repeat"), help: "Compute N times and print timings on stderr.")
    var repeatCount: Int = 0

    @Flag(help: "Use the slow naive twin (every patch pair directly): for checks and benchmarks.")
    var naive = false

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup var progressArguments: ProgressArguments

    func validate() throws {
        try checkOutputName(output, option: "-o", format: "PNG or JPEG", extensions: [".png", ".jpg", ".jpeg"])
        try checkOutputName(save, option: "--save", format: "a .npy array", extensions: [".npy"])
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let picture = try InputSource(name: image, path: image, isTensor: false).image()
        let loaded = clock.now
        let detector = saliencyArguments.detector
        // Photos go to the working size with Pillow's bilinear filter (antialiased).
        let (wh, ww) = ContextAwareSaliency.workingShape(height: picture.height, width: picture.width,
                                                          longSide: saliencyArguments.workingSize)
        let small = Resize.bilinear(picture, width: ww, height: wh)
        let rgb = (0..<3).flatMap { c in (0..<(wh * ww)).map { Double(small.pixels[$0 * 3 + c]) } }
        func compute() -> [Double] {
            if naive { return NaiveSaliency.map(detector, rgb: rgb, height: wh, width: ww) }
            let progress = progressArguments.progress("saliency", total: wh * ww, unit: "pixels")
            defer { progress.finish() }
            return detector.map(rgb: rgb, height: wh, width: ww, progress: progress.update)
        }
        var times: [Duration] = []
        var working = compute()
        for _ in 0..<repeatCount {
            let t0 = clock.now
            working = compute()
            times.append(clock.now - t0)
        }
        if repeatCount > 0 { Log.timing(load: loaded - started, label: "saliency", runs: times) }
        let map = try Tensor(shape: [1, 1, wh, ww], values: working.map(Float.init))
        let full = Kernels.resizeBilinear(map, height: picture.height, width: picture.width)
        if let save { try NPY.write(try full.reshaped([picture.height, picture.width]), to: save) }
        if let output {
            let colormap = try styleArguments.cmap?.colormap ?? Colormap.named("gray")
            var heat = Heatmap.render(full.values, width: picture.width, height: picture.height, colormap: colormap)
            if canvasArguments.overlay { heat = Heatmap.overlay(heat, on: picture, alpha: canvasArguments.opacity) }
            try heat.write(to: output)
        }
        let mean = full.buffer.reduce(0.0) { $0 + Double($1) } / Double(max(full.count, 1))
        let report = SaliencyReport(image: image, width: picture.width, height: picture.height, workingWidth: ww,
                                    workingHeight: wh, meanSaliency: mean, wrote: output)
        emit(json ? try jsonText(report) : report.text)
    }
}

/// `saliency --json`. Field names are part of the CLI contract (docs/json.md).
struct SaliencyReport: Encodable {
    var image: String
    var width: Int
    var height: Int
    var workingWidth: Int
    var workingHeight: Int
    var meanSaliency: Double
    var wrote: String?

    var text: String {
        "\(image): \(width)×\(height), working size \(workingWidth)×\(workingHeight), mean saliency \(number(Float(meanSaliency)))"
            + (wrote.map { "\n  wrote \($0)" } ?? "")
    }
}

/// The context-aware saliency parameters (paper defaults).
struct SaliencyArguments: ParsableArguments {
    @Option(name: .customLong("working-size"), help: "Longer side of the working image (default 250).")
    var workingSizeOption: Int?

    @Option(help: ArgumentHelp("Nearest patches averaged per patch (K; default 64).", visibility: .hidden))
    var neighbours: Int?

    @Option(help: ArgumentHelp("Attended-area threshold of the immediate context (default 0.8).", visibility: .hidden))
    var threshold: Double?

    func validate() throws {
        guard workingSize >= 7, (neighbours ?? 1) >= 1, (threshold ?? 0) >= 0 && (threshold ?? 0) <= 1 else {
            throw ValidationError("--working-size ≥ 7, --neighbours ≥ 1 and --threshold in [0, 1]")
        }
        if workingSize > 1000 {
            Log.warning("--working-size \(workingSize): the work grows with the fourth power of the size (about \(grouped(Int(pow(Double(workingSize) / 250, 4).rounded()))) × the default's time and more memory)")
        }
    }

    var workingSize: Int { workingSizeOption ?? 250 }

    /// The options that were set (named when a method other than sr ignores them).
    var setOptions: [String] {
        [("--working-size", workingSizeOption != nil), ("--neighbours", neighbours != nil), ("--threshold", threshold != nil)]
            .filter(\.1).map(\.0)
    }

    var detector: ContextAwareSaliency {
        var d = ContextAwareSaliency()
        if let neighbours { d.neighbours = neighbours }
        if let threshold { d.threshold = threshold }
        return d
    }
}
