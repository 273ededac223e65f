import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRRender
import SRRuntime
import SRSaliency

struct Saliency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Context-aware saliency (Goferman et al.) of an image: what stands out from its context.")

    @Argument(help: "Image (PNG or JPEG).")
    var image: String

    @Option(name: .short, help: "Write the saliency map as a PNG at the image's size.")
    var output: String?

    @Option(help: "Write the map [H, W] as .npy (float32, 0…1).")
    var save: String?

    @OptionGroup var saliencyArguments: SaliencyArguments
    @OptionGroup var renderArguments: RenderArguments

    @Option(name: .customLong("repeat"), help: "Compute N times and print timings on stderr.")
    var repeatCount: Int = 0

    @Flag(help: "Use the slow naive twin (every patch pair directly): for checks and benchmarks.")
    var naive = false

    func validate() throws {
        try checkOutputName(output, option: "-o", format: "PNG", extensions: [".png"])
        try checkOutputName(save, option: "--save", format: "a .npy array", extensions: [".npy"])
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let picture = try RGBImage.read(path: image)
        let loaded = clock.now
        let detector = saliencyArguments.detector
        // Photos go to the working size with Pillow's bilinear filter (antialiased).
        let (wh, ww) = ContextAwareSaliency.workingShape(height: picture.height, width: picture.width,
                                                          longSide: saliencyArguments.workingSize)
        let small = Resize.bilinear(picture, width: ww, height: wh)
        let rgb = (0..<3).flatMap { c in (0..<(wh * ww)).map { Double(small.pixels[$0 * 3 + c]) } }
        func compute() -> [Double] {
            naive ? NaiveSaliency.map(detector, rgb: rgb, height: wh, width: ww) : detector.map(rgb: rgb, height: wh, width: ww)
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
            let colormap = try Colormap.named(renderArguments.cmap ?? "gray")
            var heat = Heatmap.render(full.values, width: picture.width, height: picture.height, colormap: colormap)
            if renderArguments.overlay { heat = Heatmap.overlay(heat, on: picture, alpha: renderArguments.alpha) }
            try PNG.write(heat, to: output)
        }
        let mean = full.buffer.reduce(0.0) { $0 + Double($1) } / Double(max(full.count, 1))
        emit("\(image): \(picture.width)×\(picture.height), working size \(ww)×\(wh), mean saliency \(number(Float(mean)))"
             + (output.map { "\n  wrote \($0)" } ?? ""))
    }
}

/// The context-aware saliency parameters (paper defaults).
struct SaliencyArguments: ParsableArguments {
    @Option(name: .customLong("working-size"), help: "Longer side of the working image.")
    var workingSize: Int = 250

    @Option(help: "Nearest patches averaged per patch (K).")
    var neighbours: Int = 64

    @Option(help: "Attended-area threshold of the immediate context.")
    var threshold: Double = 0.8

    func validate() throws {
        guard workingSize >= 7, neighbours >= 1, threshold >= 0 && threshold <= 1 else {
            throw ValidationError("--working-size ≥ 7, --neighbours ≥ 1 and --threshold in [0, 1]")
        }
    }

    var detector: ContextAwareSaliency {
        var d = ContextAwareSaliency()
        d.neighbours = neighbours
        d.threshold = threshold
        return d
    }
}
