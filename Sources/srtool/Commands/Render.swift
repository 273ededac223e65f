import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRImage
import SRRender
import SRRuntime
import SRSaliency

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render an explanation: heatmaps, one tile per layer, a contact sheet and a self-contained index.html.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup(title: "Input") var inputArguments: InputArguments

    @Option(help: "Method of the main heatmap (the layer tiles and the conservation chart are LRP).")
    var method: MethodChoice = .lrp

    @Option(help: "Layers to render: all, or a comma-separated list of names, tensors or # from inspect.")
    var layers: String = "all"

    @Flag(help: "Also compute the Salient Relevance map (LRP + context-aware saliency).")
    var sr = false

    @Option(help: "Output folder.")
    var out: String = "render"

    @Option(help: "Classes listed in the report.")
    var top: Int = 5

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup(title: "LRP") var explainArguments: ExplainArguments
    @OptionGroup(title: "Other methods") var methodArguments: MethodArguments
    @OptionGroup(title: "Salient Relevance") var saliencyArguments: SaliencyArguments
    @OptionGroup(title: "Picture") var styleArguments: StyleArguments
    @OptionGroup(title: "Run") var runtime: RuntimeArguments
    @OptionGroup var progressArguments: ProgressArguments

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        let ignored = methodArguments.ignored(by: method) + (method.method.usesSaliency || sr ? [] : saliencyArguments.setOptions)
        if !ignored.isEmpty {
            Log.warning("\(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "is" : "are") ignored by --method \(method.name)")
        }
    }

    func run() throws {
        let graph = try modelArguments.loadForRunning()
        let inputs = try inputArguments.sources()
        guard inputs.count == 1 else { throw SRError.usage("render takes one image or .npy (got \(inputs.count)); use explain for several") }
        let names = try labels.map(readLabels) ?? graph.metadata.labels
        let (x, sources) = try inputArguments.tensor(for: graph, sources: inputs)
        guard x.rank == 4 else { throw SRError.usage("render needs an N,C,H,W input, got \(shapeText(x.shape))") }
        try modelArguments.checkInput(x)
        let preprocessing = inputArguments.hasImages ? try inputArguments.preprocessing(for: graph) : nil
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount, budget: try modelArguments.budget())
        let rules = try explainArguments.ruleSet(for: explainer, graph: graph, input: x, preprocessing: preprocessing)
        let compositeName = explainArguments.compositeName(for: .lrp)
        let target = try explainArguments.resolveTarget(labels: names)
        let (e, audits) = try explainer.audit(x, target: target, rules: rules, tolerance: 1e-3)
        let (h, w) = (x.shape[2], x.shape[3])
        // Built whole beside `out`, then swapped in: the folder never mixes two runs.
        let folder = try OutputFolder(out)
        try folder.makeFolder("layers")
        func path(_ name: String) -> String { folder.file(name) }
        func figure(_ title: String, _ image: RGBImage) throws -> Report.Figure {
            Report.Figure(title: title, png: try PNG.encode(width: image.width, height: image.height, channels: 3, pixels: image.pixels))
        }
        // LRP tiles: channels summed, upsampled to the input, symmetric around 0, the --cmap
        // colours, else coldnhot.
        let lrpColors = try styleArguments.cmap?.colormap ?? Colormap.named("coldnhot")
        let tileStyle = HeatmapStyle(reduction: .sum, normalization: .symmetric, colormap: lrpColors,
                                     clipPercentile: styleArguments.clipPercentile)
        var figures: [Report.Figure] = []
        // The optional pictures, in the order they are written (for the summary).
        var written: [String] = []
        if let source = inputs.first, !source.isTensor, let p = preprocessing {
            let shown = try p.croppedImage(from: try source.image(), height: h, width: w)
            figures.append(try figure("input (as the network sees it)", shown))
            try PNG.write(shown, to: path("input.png"))
            written.append("input.png")
        }
        // The main heatmap: the method's map drawn as `explain -o` draws it.
        let style = try styleArguments.style(for: method)
        let mainMap: AttributionMap
        if method == .lrp {
            mainMap = AttributionMap(raw: e.input, display: e.input, layer: nil)
        } else {
            let runner = try MethodRunner(method: method, explainer: explainer, graph: graph, input: x, preprocessing: preprocessing,
                                          explainArguments: explainArguments, methodArguments: methodArguments, saliency: saliencyArguments)
            var options = runner.options
            let inner = progressArguments.progress(method.name, total: 1, unit: "runs")
            options.progress = { inner.update($0) }
            mainMap = try runner.run(x, target: target, options: options).maps[0]
            inner.finish()
        }
        let mainTitle = "\(method.name): " + method.method.summary
            .replacingOccurrences(of: "--composite", with: explainArguments.compositeName(for: method))
        let heatmap = Heatmap.picture(mainMap.display, image: 0, style: style)
        try PNG.write(heatmap, to: path("heatmap.png"))
        figures.append(try figure(mainTitle, heatmap))
        if sr && method != .sr {
            // The Salient Relevance of the tiles' own relevance, drawn as --method sr draws it.
            let map = try SalientRelevance.maps(e.input, saliency: saliencyArguments.detector, workingSize: saliencyArguments.workingSize)
            let picture = Heatmap.picture(map, image: 0, style: try HeatmapStyle.defaults(of: MethodChoice.sr.method))
            try PNG.write(picture, to: path("sr.png"))
            written.append("sr.png")
            figures.append(try figure("Salient Relevance (LRP \(compositeName) + context-aware saliency)", picture))
        }
        // Per-layer tiles, in network order.
        // A layer named by the user, as loaded; a batch norm folded into its conv is found by its tensor.
        let wanted: [Node]? = layers == "all" ? nil : try layers.split(separator: ",").map {
            try graph.resolveLayer(String($0), option: "--layers")
        }
        let nodes = explainer.graph.nodes.filter { n in
            guard let t = e.layers[n.output], t.rank == 4, t.shape[2] * t.shape[3] > 1 else { return false }
            return wanted.map { $0.contains { $0.name == n.name || $0.output == n.output } } ?? true
        }
        if let wanted, nodes.isEmpty { throw SRError.usage("--layers: none of \(wanted.map(\.name)) is a 4-D layer") }
        let progress = progressArguments.progress("rendering layers", total: nodes.count, unit: "layers")
        var tiles: [(name: String, image: RGBImage)] = []
        var layerFigures: [Report.Figure] = []
        var tileNames = FileNames()
        for (i, node) in nodes.enumerated() {
            guard let t = e.layers[node.output] else { continue }
            let image = Heatmap.picture(t, image: 0, style: tileStyle, size: (h, w))
            try PNG.write(image, to: path("layers/" + tileNames.name(for: node.output, extension: ".png")))
            tiles.append((node.name, image))
            layerFigures.append(try figure(node.name, image))
            progress.update(Double(i + 1) / Double(nodes.count))
        }
        progress.finish()
        try PNG.write(ContactSheet.make(tiles, columns: min(6, max(tiles.count, 1)), tileSize: max(96, min(w, 160))),
                      to: path("contact-sheet.png"))
        // The model's output from the explanation's own forward pass (no second pass).
        guard let output = explainer.graph.outputs.first, let scores = e.activations[output] else {
            throw SRError.internalError("no model output")
        }
        let ranked = try Classification.top(scores, k: top, isProbability: explainer.graph.endsInSoftmax)[0]
        let audit = audits[0]
        let k = e.targets[0]
        let label = names.flatMap { k < $0.count ? $0[k] : nil }
        let lowHigh: (String, String) = switch (method.method.usesSaliency, style.normalization) {
        case (true, _): ("least salient", "most salient")
        case (false, .symmetric): ("−max |value| (against the class)", "+max |value| (for the class)")
        case (false, .absolute): ("0", "max |value|")
        case (false, .unaligned): ("min", "max")
        }
        let report = Report(
            title: "\(modelArguments.model) — \(sources.first ?? "")",
            subtitle: "target \(k)\(label.map { " (\($0))" } ?? ""), score \(number(e.startValues[0])); heatmap: \(method.name); "
                + "layer tiles and conservation chart: LRP (\(compositeName)), input relevance Σ \(number(Float(audit.inputRelevance)))",
            predictions: ranked.map { r in
                Report.Prediction(label: names.flatMap { $0.indices.contains(r.index) ? $0[r.index] : nil } ?? "class \(r.index)",
                                  probability: r.probability)
            },
            figures: figures,
            figureColors: Report.Colorbar(title: "heatmap colours (\(method.name))", colormap: style.colormap, low: lowHigh.0, high: lowHigh.1),
            layers: layerFigures,
            layerTitle: "LRP relevance per layer (\(compositeName)), channels summed, each tile scaled to its own max |R|",
            layerColors: Report.Colorbar(title: "layer tile colours (LRP)", colormap: lrpColors, low: "−max |R|", high: "+max |R|"),
            conservation: [("input", audit.inputRelevance)] + audit.layers.map { ($0.node, $0.relevanceOut) },
            start: audit.start)
        try AtomicFile.write(Data(report.html.utf8), to: path("index.html"))
        try folder.commit()
        let result = RenderReport(folder: out, index: (out as NSString).appendingPathComponent("index.html"), method: method.name,
                                  composite: compositeName, target: k, label: label, layerTiles: nodes.count,
                                  files: ["index.html", "heatmap.png", "contact-sheet.png"] + written)
        emit(json ? try jsonText(result) : "wrote \(result.index): \(nodes.count) layer tiles, \(result.files.dropFirst().joined(separator: ", "))")
    }
}

/// `render --json`. Field names are part of the CLI contract (docs/json.md).
struct RenderReport: Encodable {
    var folder: String
    var index: String
    var method: String
    var composite: String
    var target: Int
    var label: String?
    var layerTiles: Int
    var files: [String]
}

struct Colormaps: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the colour maps (name and control points).")

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    struct Entry: Encodable { var name: String; var spec: String }

    func run() throws {
        let entries = Colormap.all.map { Entry(name: $0.name, spec: $0.source) }
        emit(json ? try jsonText(entries) : formatTable(entries.map { [$0.name, $0.spec] }, rightAligned: []).joined(separator: "\n"))
    }
}
