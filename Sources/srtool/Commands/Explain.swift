import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRImage
import SRRender
import SRRuntime
import SRSaliency

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a prediction: an attribution map at the input (heatmap, .npy), and LRP relevance at every layer.",
        discussion: "The README's Methods table says what each method computes and which options it reads; srtool explain --help-hidden lists every option (preprocessing overrides, limits, method knobs).")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup(title: "Input") var inputArguments: InputArguments

    @Option(help: "Attribution method (sr: Salient Relevance, LRP then context-aware saliency; the README's Methods table says what each computes).")
    var method: MethodChoice = .lrp

    @Option(name: .short, help: ArgumentHelp("Heatmap: a .png or .jpg file, or a folder (ending in /) for one picture per input named after it.", valueName: "file|dir/"))
    var output: String?

    @Option(help: "Write the raw map as .npy ([N, C, H, W]; [N, 1, h, w] at the layer for cam/gradcam).")
    var save: String?

    @Option(name: .customLong("save-layers"), help: "lrp, sr: write every layer's relevance as <tensor>.npy into this folder (a subfolder per input).")
    var saveLayers: String?

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup(title: "LRP") var explainArguments: ExplainArguments
    @OptionGroup(title: "Other methods") var methodArguments: MethodArguments
    @OptionGroup(title: "Salient Relevance") var saliencyArguments: SaliencyArguments
    @OptionGroup(title: "Picture") var styleArguments: StyleArguments
    @OptionGroup(title: "Picture") var canvasArguments: CanvasArguments
    @OptionGroup(title: "Run") var runtime: RuntimeArguments
    @OptionGroup var progressArguments: ProgressArguments

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Explain N times and print timings on stderr.", visibility: .hidden))
    var repeatCount: Int = 0

    func validate() throws {
        guard repeatCount >= 0 else { throw ValidationError("--repeat must not be negative") }
        if saveLayers != nil && !method.usesComposite { throw ValidationError("--save-layers needs --method lrp or sr") }
        if let output, !OutputNames.namesFolder(output) {
            try checkOutputName(output, option: "-o", format: "PNG or JPEG", extensions: [".png", ".jpg", ".jpeg"])
        }
        try checkOutputName(save, option: "--save", format: "a .npy array", extensions: [".npy"])
        let ignored = explainArguments.ignored(by: method) + methodArguments.ignored(by: method)
            + (method.method.usesSaliency ? [] : saliencyArguments.setOptions)
        if !ignored.isEmpty {
            Log.warning("\(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "is" : "are") ignored by --method \(method.name)")
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let graph = try modelArguments.loadForRunning()
        let loaded = clock.now
        let names = try labels.map(readLabels) ?? graph.metadata.labels
        let sources = try inputArguments.sources()
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount, budget: try modelArguments.budget())
        let preprocessing = inputArguments.hasImages ? try inputArguments.preprocessing(for: graph) : nil
        let target = try explainArguments.resolveTarget(labels: names)
        if let caveat = method.method.caveat(for: graph) { Log.warning(caveat) }
        let style = try styleArguments.style(for: method)
        var outputs = try output.map { try OutputNames($0) }
        // Images are explained one at a time (bounded memory over a folder); a .npy batch at once.
        let chunks: [[InputSource]] = sources.first?.isTensor == true ? [sources] : sources.map { [$0] }
        let progress = progressArguments.progress("explaining", total: chunks.count, unit: "images")
        var runner: MethodRunner?
        var report = ExplainReport(model: modelArguments.model, method: method.name,
                                   composite: method.usesComposite ? explainArguments.compositeName(for: method) : nil)
        var saved: [[Tensor]] = []
        var times: [Duration] = []
        let layersFolder = try saveLayers.map { try OutputFolder($0) }
        var layerFolders = FileNames()

        /// The picture of map `n`: at the input's size, or on the photo.
        func picture(_ map: AttributionMap, _ n: Int, source: InputSource?) throws -> RGBImage {
            guard let source, let preprocessing else { return Heatmap.picture(map.display, image: n, style: style) }
            let canvas = try canvasArguments.canvas(photo: try source.image(), preprocessing: preprocessing,
                                                    height: map.display.shape[2], width: map.display.shape[3])
            return Heatmap.picture(map.display, image: n, style: style, on: canvas)
        }

        /// One chunk: the maps, the report lines, the pictures, the layer relevances.
        func explainChunk(_ x: Tensor, names inputNames: [String], chunk: [InputSource], runner: MethodRunner, options o: MethodOptions) throws {
            func compute() throws -> MethodResult { try runner.run(x, target: target, options: o) }
            var result = try compute()
            for _ in 0..<repeatCount {
                let t0 = clock.now
                result = try compute()
                times.append(clock.now - t0)
            }
            let source = chunk[0]
            for n in 0..<x.shape[0] {
                let k = result.classified.targets[n]
                var item = ExplainReport.Item(input: inputNames[min(n, inputNames.count - 1)], target: k,
                                              label: names.flatMap { k < $0.count ? $0[k] : nil },
                                              score: result.classified.score(n), maps: [])
                for map in result.maps {
                    let r = map.raw.sample(n)
                    var entry = ExplainReport.Map(layer: map.layer, shape: Array(map.raw.shape.dropFirst()),
                                                  sum: r.buffer.reduce(0.0) { $0 + Double($1) })
                    if method == .lrp {
                        entry.positive = r.buffer.reduce(0.0) { $0 + Double(max($1, 0)) }
                        entry.negative = r.buffer.reduce(0.0) { $0 + Double(min($1, 0)) }
                    }
                    if var names = outputs {
                        let stem = source.isTensor && x.shape[0] > 1 ? "\(source.stem)_\(n)" : source.stem
                        let path = names.path(stem: stem, single: sources.count == 1 && x.shape[0] == 1,
                                              layer: result.maps.count > 1 ? map.layer : nil)
                        outputs = names
                        try picture(map, n, source: source.isTensor ? nil : source).write(to: path)
                        entry.wrote = path
                    }
                    item.maps.append(entry)
                }
                report.results.append(item)
            }
            if save != nil { saved.append(result.maps.map(\.raw)) }
            if let layersFolder, let layers = result.layers {
                var files = FileNames()
                let sub = sources.count == 1 ? "" : layerFolders.name(for: source.stem, extension: "")
                if !sub.isEmpty { try layersFolder.makeFolder(sub) }
                for (name, t) in layers {
                    try NPY.write(t, to: layersFolder.file((sub.isEmpty ? "" : sub + "/") + files.name(for: name, extension: ".npy")))
                }
            }
        }

        for (c, chunk) in chunks.enumerated() {
            let (x, inputNames) = try inputArguments.tensor(for: graph, sources: chunk)
            try modelArguments.checkInput(x)
            if runner == nil {
                runner = try MethodRunner(method: method, explainer: explainer, graph: graph, input: x, preprocessing: preprocessing,
                                          explainArguments: explainArguments, methodArguments: methodArguments, saliency: saliencyArguments)
            }
            guard let runner else { continue }
            var o = runner.options
            o.keepsLayers = layersFolder != nil
            // The passes of one image get their own progress line when there is one image.
            let inner = chunks.count == 1 && ["smoothgrad", "ig", "occlusion"].contains(method.name)
                ? progressArguments.progress(method.name, total: innerPasses(o, x) * x.shape[0], unit: "passes") : nil
            if let inner { o.progress = { inner.update($0) } }
            try explainChunk(x, names: inputNames, chunk: chunk, runner: runner, options: o)
            inner?.finish()
            progress.update(Double(c + 1) / Double(chunks.count))
        }
        progress.finish()
        warnIfAmplified(report, graph: graph)
        if repeatCount > 0 { Log.timing(load: loaded - started, label: "explain", runs: times) }
        if let save, let first = saved.first {
            var files = FileNames()
            for m in first.indices {
                let stacked = saved.count == 1 ? first[m] : try Tensor.stack(saved.map { $0[m] })
                let layer = report.results.first?.maps[m].layer ?? "map"
                let path = first.count > 1 ? suffixed(save, files.name(for: layer, extension: "")) : save
                try NPY.write(stacked, to: path)
            }
        }
        try layersFolder?.commit()
        emit(json ? try jsonText(report) : report.text)
    }

    /// Input relevance of both signs beyond 10× the score: relevance of opposite signs
    /// amplified inside the network, which biases do not absorb evenly. In a network with
    /// attention, layer norm or softmax the rules for those are missing (`--composite
    /// attnlrp`); elsewhere, zennit's norm rule splitting an addition of opposite-signed
    /// tensors (a pre-activation ResNet's shortcut and branch) into shares far outside
    /// [0, 1] is the usual cause (`--sum-rule norm-plus`). Said once, with the remedy.
    private func warnIfAmplified(_ report: ExplainReport, graph: Graph) {
        guard method.usesComposite else { return }
        let worst = report.results.compactMap { item -> Double? in
            guard let map = item.maps.first, let p = map.positive, let n = map.negative, item.score != 0 else { return nil }
            return (p - n) / abs(Double(item.score))
        }.max() ?? 0
        guard worst > 10 else { return }
        let attention = graph.nodes.contains { node in
            switch node.op {
            case .matmul, .softmax, .layerNorm: return true
            default: return false
            }
        }
        let composite = Composite.named(explainArguments.compositeName(for: method))
        let remedy: String
        if attention && composite?.explainsAttention == false {
            remedy = "the model has attention or layer norm: --composite attnlrp has rules for them"
        } else if !attention && explainArguments.sumRule == nil && graph.nodes.contains(where: { if case .add = $0.op { return true } else { return false } }) {
            remedy = "additions of opposite-signed tensors split by the norm rule amplify it: --sum-rule norm-plus splits them by positive parts"
        } else {
            return
        }
        Log.warning("the input relevance reaches \(Int(worst.rounded()))× the score in magnitude; \(remedy)")
    }

    /// Forward or backward passes of one image for the progress line.
    private func innerPasses(_ o: MethodOptions, _ x: Tensor) -> Int {
        switch method.name {
        case "smoothgrad": return o.samples
        case "ig": return o.steps
        default: return x.rank == 4 ? Explainer.occlusionPasses(height: x.shape[2], width: x.shape[3], window: o.window, stride: o.stride) : 1
        }
    }
}

/// `explain --json`. Field names are part of the CLI contract (docs/json.md).
struct ExplainReport: Encodable {
    struct Map: Encodable {
        var layer: String?
        var shape: [Int]
        var sum: Double
        var positive: Double?
        var negative: Double?
        var wrote: String?
    }
    struct Item: Encodable {
        var input: String
        var target: Int
        var label: String?
        var score: Float
        var maps: [Map]
    }
    var model: String
    var method: String
    var composite: String?
    var results: [Item] = []

    var text: String {
        var lines: [String] = []
        for item in results {
            lines.append("\(item.input): target \(item.target)\(item.label.map { " (\($0))" } ?? ""), score \(number(item.score)), method \(method)")
            for map in item.maps {
                if let positive = map.positive, let negative = map.negative {
                    lines.append(String(format: "  input relevance Σ %@ (%.1f%% of the score), positive %@, negative %@",
                                        number(Float(map.sum)), item.score != 0 ? map.sum / Double(item.score) * 100 : 0,
                                        number(Float(positive)), number(Float(negative))))
                } else {
                    lines.append("  map\(map.layer.map { " at \($0)" } ?? "") \(shapeText(map.shape)): Σ \(number(Float(map.sum)))")
                }
                if let wrote = map.wrote { lines.append("  wrote \(wrote)") }
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// "heat.png", "conv1" → "heat_conv1.png".
func suffixed(_ path: String, _ suffix: String) -> String {
    let ns = path as NSString
    return (ns.deletingPathExtension + "_\(suffix)") + (ns.pathExtension.isEmpty ? "" : "." + ns.pathExtension)
}
