import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRRender
import SRRuntime
import SRSaliency

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a prediction: an attribution map at the input (heatmap, .npy), and LRP relevance at every layer.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments

    @Option(help: ArgumentHelp("Method: \(Method.all.map(\.name).joined(separator: ", ")), sr (Salient Relevance: LRP, default composite sr-paper, then context-aware saliency).", valueName: "method"))
    var method: String = "lrp"

    @OptionGroup(title: "Salient Relevance (--method sr)") var saliencyArguments: SaliencyArguments

    @OptionGroup var explainArguments: ExplainArguments
    @OptionGroup var methodArguments: MethodArguments

    @Option(name: .short, help: "Write the map as a heatmap PNG (name_K.png per image of a batch, name_<layer>.png per layer).")
    var output: String?

    @Option(help: "Write the raw map as .npy ([N, C, H, W]; [N, 1, h, w] at the layer for cam/gradcam).")
    var save: String?

    @Option(name: .customLong("save-layers"), help: "lrp: write every layer's relevance as <tensor>.npy into this folder.")
    var saveLayers: String?

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @OptionGroup var renderArguments: RenderArguments
    @OptionGroup var runtime: RuntimeArguments

    @Option(name: .customLong("repeat"), help: "Explain N times and print timings on stderr.")
    var repeatCount: Int = 0

    func validate() throws {
        guard Method.named(method) != nil || method == "sr" else {
            throw ValidationError("--method must be one of \(Method.all.map(\.name).joined(separator: ", ")), sr")
        }
        guard repeatCount >= 0 else { throw ValidationError("--repeat must not be negative") }
        if saveLayers != nil && method != "lrp" && method != "sr" { throw ValidationError("--save-layers needs --method lrp or sr") }
        try checkOutputName(output, option: "-o", format: "PNG", extensions: [".png"])
        try checkOutputName(save, option: "--save", format: "a .npy array", extensions: [".npy"])
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let graph = try modelArguments.loadForRunning()
        let loaded = clock.now
        guard let m = Method.named(method == "sr" ? "lrp" : method) else { throw SRError.usage("unknown method '\(method)'") }
        let names = try labels.map(readLabels) ?? graph.metadata.labels
        let (x, sources) = try inputArguments.tensor(for: graph)
        try modelArguments.checkInput(x)
        let preprocessing = inputArguments.images.isEmpty ? nil : try inputArguments.preprocessing(for: graph)
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount, budget: try modelArguments.budget())
        var options = try methodArguments.options(for: explainer)
        options.rules = try explainArguments.ruleSet(for: explainer, input: x, preprocessing: preprocessing,
                                                     defaultComposite: method == "sr" ? "sr-paper" : "epsilon-plus-flat")
        let target = try explainArguments.resolveTarget(labels: names)
        if let caveat = m.caveat(for: graph) { Log.warning(caveat) }
        var times: [Duration] = []
        func compute() throws -> MethodResult {
            var r = try m.run(explainer, x, target: target, options: options)
            guard method == "sr" else { return r }
            // SR map: the LRP relevance as an image, through context-aware saliency.
            let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
            let sr = Tensor(uninitialized: [n, 1, h, w])
            for i in 0..<n {
                let s = try SalientRelevance.map(r.maps[0].raw, image: i, saliency: saliencyArguments.detector,
                                                 workingSize: saliencyArguments.workingSize)
                for k in 0..<(h * w) { sr.pointer[i * h * w + k] = Float(s[k]) }
            }
            r.maps = [AttributionMap(raw: sr, display: sr, layer: nil)]
            return r
        }
        var result = try compute()
        for _ in 0..<repeatCount {
            let t0 = clock.now
            result = try compute()
            times.append(clock.now - t0)
        }
        if repeatCount > 0 { Log.timing(load: loaded - started, label: "explain", runs: times) }
        var lines: [String] = []
        let render = method == "sr"
            ? (colormap: try Colormap.named(renderArguments.cmap ?? "hot"),
               normalization: Normalization(rawValue: renderArguments.normalization ?? "unaligned") ?? .unaligned,
               reduction: Heatmap.Reduction.sum)
            : try renderArguments.settings(for: m)
        for n in 0..<x.shape[0] {
            var mapNames = FileNames()
            let k = result.classified.targets[n]
            let logit = result.classified.score(n)
            let label = names.flatMap { k < $0.count ? " (\(Escape.terminal($0[k])))" : nil } ?? ""
            lines.append("\(sources[min(n, sources.count - 1)]): target \(k)\(label), score \(number(logit)), method \(method)")
            for map in result.maps {
                let r = map.raw.sample(n)
                let total = r.buffer.reduce(0.0) { $0 + Double($1) }
                let where_ = map.layer.map { " at \($0)" } ?? ""
                if method == "lrp" {
                    lines.append(String(format: "  input relevance Σ %@ (%.1f%% of the score), positive %@, negative %@",
                                        number(Float(total)), logit != 0 ? total / Double(logit) * 100 : 0,
                                        number(Float(r.buffer.reduce(0.0) { $0 + Double(max($1, 0)) })),
                                        number(Float(r.buffer.reduce(0.0) { $0 + Double(min($1, 0)) }))))
                } else {
                    lines.append("  map\(where_) \(shapeText(Array(map.raw.shape.dropFirst()))): Σ \(number(Float(total)))")
                }
                guard let output else { continue }
                var path = x.shape[0] == 1 ? output : numbered(output, n)
                if result.maps.count > 1, let layer = map.layer { path = suffixed(path, mapNames.name(for: layer, extension: "")) }
                let values = Heatmap.normalize(Heatmap.reduce(map.display, image: n, render.reduction), render.normalization,
                                               clipPercentile: renderArguments.clipPercentile)
                let (h, w) = (x.shape[2], x.shape[3])
                var picture = Heatmap.render(values, width: w, height: h, colormap: render.colormap)
                if renderArguments.overlay, let base = try overlayBase(n, graph: graph, height: h, width: w) {
                    picture = Heatmap.overlay(picture, on: base, alpha: renderArguments.alpha)
                }
                try PNG.write(picture, to: path)
                lines.append("  wrote \(path)")
            }
        }
        if let save {
            var names = FileNames()
            for map in result.maps {
                let path = result.maps.count > 1 ? suffixed(save, names.name(for: map.layer ?? "map", extension: "")) : save
                try NPY.write(map.raw, to: path)
            }
        }
        if let saveLayers, let layers = result.layers {
            let folder = try OutputFolder(saveLayers)
            var names = FileNames()
            for (name, t) in layers {
                try NPY.write(t, to: folder.file(names.name(for: name, extension: ".npy")))
            }
            try folder.commit()
        }
        emit(lines.joined(separator: "\n"))
    }

    /// The input image as the network saw it (resized and cropped), for --overlay.
    private func overlayBase(_ n: Int, graph: Graph, height: Int, width: Int) throws -> RGBImage? {
        guard n < inputArguments.images.count else { return nil }
        let image = try RGBImage.read(path: inputArguments.images[n])
        return try inputArguments.preprocessing(for: graph).croppedImage(from: image, height: height, width: width)
    }
}

/// "heat.png", 2 → "heat_2.png".
func numbered(_ path: String, _ n: Int) -> String { suffixed(path, "\(n)") }

/// "heat.png", "conv1" → "heat_conv1.png".
func suffixed(_ path: String, _ suffix: String) -> String {
    let ns = path as NSString
    return (ns.deletingPathExtension + "_\(suffix)") + (ns.pathExtension.isEmpty ? "" : "." + ns.pathExtension)
}

/// Options of the non-LRP methods.
struct MethodArguments: ParsableArguments {
    @Option(help: "smoothgrad: noisy samples.")
    var samples: Int = 20

    @Option(help: "smoothgrad: noise standard deviation relative to the image's value range.")
    var noise: Float = 0.1

    @Option(help: "smoothgrad: random seed.")
    var seed: UInt64 = 0

    @Option(help: "ig: integration steps.")
    var steps: Int = 50

    @Option(help: ArgumentHelp("ig: integration rule: gausslegendre (Captum's default) or riemann (trapezoid).", valueName: "rule"))
    var integration: String = "gausslegendre"

    @Option(help: "ig: baseline input (.npy; default zeros).")
    var baseline: String?

    @Option(help: "occlusion: window side in pixels.")
    var window: Int = 8

    @Option(help: "occlusion: window stride in pixels.")
    var stride: Int = 4

    @Option(help: "smoothgrad, ig, occlusion: images per forward batch.")
    var batch: Int = 16

    @Option(help: "gradcam, guided-gradcam: layer (node or tensor name; default the last conv; gradcam: 'all').")
    var layer: String?

    func validate() throws {
        guard samples >= 1, steps >= 1, window >= 1, stride >= 1, batch >= 1 else {
            throw ValidationError("--samples, --steps, --window, --stride and --batch must be positive")
        }
        guard noise >= 0 else { throw ValidationError("--noise must not be negative") }
        guard IntegrationMethod(rawValue: integration) != nil else {
            throw ValidationError("--integration must be gausslegendre or riemann")
        }
    }

    func options(for explainer: Explainer) throws -> MethodOptions {
        var o = MethodOptions()
        o.samples = samples; o.noise = noise; o.seed = seed; o.steps = steps
        o.integration = IntegrationMethod(rawValue: integration) ?? .gaussLegendre
        o.baseline = try baseline.map { try NPY.read(path: $0) }
        o.window = window; o.stride = stride; o.batch = batch
        if let layer, layer != "all" {
            guard let node = explainer.graph.node(named: layer) else { throw SRError.usage("--layer: no layer named '\(layer)'") }
            o.layer = node.output
        } else {
            o.layer = layer
        }
        return o
    }
}
