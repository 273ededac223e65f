import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRRender

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a prediction: relevance at the input (heatmap, .npy) and at every layer.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments

    @Option(help: "Explanation method: lrp.")
    var method: String = "lrp"

    @OptionGroup var explainArguments: ExplainArguments

    @Option(name: .short, help: "Write the input relevance as a heatmap PNG (one per image: name_K.png for a batch).")
    var output: String?

    @Option(help: "Write the input relevance [N, C, H, W] as .npy.")
    var save: String?

    @Option(name: .customLong("save-layers"), help: "Write every layer's relevance as <tensor>.npy into this folder.")
    var saveLayers: String?

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @OptionGroup var renderArguments: RenderArguments
    @OptionGroup var runtime: RuntimeArguments

    @Option(name: .customLong("repeat"), help: "Explain N times and print timings on stderr.")
    var repeatCount: Int = 0

    func validate() throws {
        guard method == "lrp" else { throw ValidationError("--method must be lrp") }
        guard repeatCount >= 0 else { throw ValidationError("--repeat must not be negative") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let graph = try modelArguments.load()
        let loaded = clock.now
        let names = try labels.map(readLabels) ?? graph.metadata.labels
        let (x, sources) = try inputArguments.tensor(for: graph)
        let preprocessing = inputArguments.images.isEmpty ? nil : try inputArguments.preprocessing(for: graph)
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount)
        let rules = try explainArguments.ruleSet(for: explainer, input: x, preprocessing: preprocessing)
        let target = try explainArguments.resolveTarget(labels: names)
        var times: [Duration] = []
        var e = try explainer.explain(x, target: target, rules: rules)
        for _ in 0..<repeatCount {
            let t0 = clock.now
            e = try explainer.explain(x, target: target, rules: rules)
            times.append(clock.now - t0)
        }
        if repeatCount > 0 { Log.timing(load: loaded - started, label: "explain", runs: times) }
        let colormap = try Colormap.named(renderArguments.cmap)
        var lines: [String] = []
        for n in 0..<x.shape[0] {
            let r = e.input.sample(n)
            let total = r.buffer.reduce(0.0) { $0 + Double($1) }
            let positive = r.buffer.reduce(0.0) { $0 + Double(max($1, 0)) }
            let negative = r.buffer.reduce(0.0) { $0 + Double(min($1, 0)) }
            let k = e.targets[n]
            let label = names.flatMap { k < $0.count ? " (\($0[k]))" : nil } ?? ""
            lines.append("\(sources[min(n, sources.count - 1)]): target \(k)\(label), logit \(number(e.startValues[n]))")
            lines.append(String(format: "  input relevance Σ %@ (%.1f%% of the logit), positive %@, negative %@",
                                number(Float(total)), e.startValues[n] != 0 ? total / Double(e.startValues[n]) * 100 : 0,
                                number(Float(positive)), number(Float(negative))))
            if let output {
                let path = x.shape[0] == 1 ? output : numbered(output, n)
                let map = Heatmap.channelSum(e.input, image: n)
                let norm = Heatmap.normalize(map, Normalization(rawValue: renderArguments.normalization) ?? .symmetric)
                let (h, w) = (x.shape[2], x.shape[3])
                var picture = Heatmap.render(norm, width: w, height: h, colormap: colormap)
                if renderArguments.overlay, let base = try overlayBase(n, graph: graph, height: h, width: w) {
                    picture = Heatmap.overlay(picture, on: base, alpha: renderArguments.alpha)
                }
                try PNG.write(picture, to: path)
                lines.append("  wrote \(path)")
            }
        }
        if let save { try NPY.write(e.input, to: save) }
        if let saveLayers {
            do { try FileManager.default.createDirectory(atPath: saveLayers, withIntermediateDirectories: true) } catch {
                throw SRError.cannotWrite("cannot create folder \(saveLayers): \(error.localizedDescription)")
            }
            for (name, t) in e.layers {
                try NPY.write(t, to: (saveLayers as NSString).appendingPathComponent(fileName(name) + ".npy"))
            }
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
func numbered(_ path: String, _ n: Int) -> String {
    let ns = path as NSString
    return (ns.deletingPathExtension + "_\(n)") + (ns.pathExtension.isEmpty ? "" : "." + ns.pathExtension)
}
