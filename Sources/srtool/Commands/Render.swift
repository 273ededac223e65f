import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRRender
import SRRuntime
import SRSaliency

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render an explanation: heatmaps, one tile per layer, a contact sheet and a self-contained index.html.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments
    @OptionGroup var explainArguments: ExplainArguments

    @Option(help: ArgumentHelp("Method of the main heatmap: \(Method.all.map(\.name).joined(separator: ", ")) (layer tiles and the conservation chart are LRP).", valueName: "method"))
    var method: String = "lrp"

    @OptionGroup var methodArguments: MethodArguments
    @OptionGroup var renderArguments: RenderArguments

    @Option(help: "Layers to render: all, or a comma-separated list of node or tensor names.")
    var layers: String = "all"

    @Flag(help: "Also compute the Salient Relevance map (LRP + context-aware saliency).")
    var sr = false

    @Option(help: "Output folder.")
    var out: String = "render"

    @Option(help: "Classes listed in the report.")
    var top: Int = 5

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @OptionGroup var runtime: RuntimeArguments

    func validate() throws {
        guard Method.named(method) != nil else {
            throw ValidationError("--method must be one of \(Method.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        let graph = try modelArguments.loadForRunning()
        guard inputArguments.images.count <= 1 else { throw SRError.usage("render takes one image") }
        let names = try labels.map(readLabels) ?? graph.metadata.labels
        let (x, sources) = try inputArguments.tensor(for: graph)
        try modelArguments.checkInput(x)
        let preprocessing = inputArguments.images.isEmpty ? nil : try inputArguments.preprocessing(for: graph)
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount, budget: try modelArguments.budget())
        let rules = try explainArguments.ruleSet(for: explainer, input: x, preprocessing: preprocessing)
        let target = try explainArguments.resolveTarget(labels: names)
        let (e, audits) = try explainer.audit(x, target: target, rules: rules, tolerance: 1e-3)
        let (h, w) = (x.shape[2], x.shape[3])
        // Built whole beside `out`, then swapped in: the folder never mixes two runs.
        let folder = try OutputFolder(out)
        try folder.makeFolder("layers")
        func path(_ name: String) -> String { folder.file(name) }
        // Channels are summed at the layer's resolution, then upsampled: bilinear resizing is
        // linear, so this is the same map at 1/C of the work.
        func heat(_ t: Tensor) throws -> RGBImage {
            let plane = try Tensor(shape: [1, 1, t.shape[2], t.shape[3]], values: Heatmap.reduce(t, image: 0, .sum))
            let up = Kernels.resizeBilinear(plane, height: h, width: w)
            return Heatmap.render(Heatmap.normalize(up.values, .symmetric), width: w, height: h,
                                  colormap: (try? Colormap.named("coldnhot")) ?? Colormap.all[0])
        }
        var figures: [Report.Figure] = []
        if let first = inputArguments.images.first, let p = preprocessing {
            let shown = try p.croppedImage(from: try RGBImage.read(path: first), height: h, width: w)
            figures.append(Report.Figure(title: "input", png: try PNG.encode(width: w, height: h, channels: 3, pixels: shown.pixels)))
            try PNG.write(shown, to: path("input.png"))
        }
        let compositeName = explainArguments.composite ?? "epsilon-plus-flat"
        let heatmap: RGBImage
        if method == "lrp" {
            heatmap = try heat(e.input)
        } else {
            // Another method's map, rendered as `explain -o` renders it.
            guard let m = Method.named(method) else { throw SRError.usage("unknown method '\(method)'") }
            var options = try methodArguments.options(for: explainer)
            options.rules = rules
            let map = try m.run(explainer, x, target: target, options: options).maps[0]
            let settings = try renderArguments.settings(for: m)
            heatmap = Heatmap.render(Heatmap.normalize(Heatmap.reduce(map.display, image: 0, settings.reduction), settings.normalization,
                                                       clipPercentile: renderArguments.clipPercentile),
                                     width: w, height: h, colormap: settings.colormap)
        }
        try PNG.write(heatmap, to: path("heatmap.png"))
        figures.append(Report.Figure(title: method == "lrp" ? "LRP (\(compositeName))" : method,
                                     png: try PNG.encode(width: w, height: h, channels: 3, pixels: heatmap.pixels)))
        if sr {
            let s = try SalientRelevance.map(e.input, image: 0, saliency: ContextAwareSaliency(), workingSize: 250)
            let map = Heatmap.render(s.map(Float.init), width: w, height: h, colormap: try Colormap.named("hot"))
            try PNG.write(map, to: path("sr.png"))
            figures.append(Report.Figure(title: "SR map", png: try PNG.encode(width: w, height: h, channels: 3, pixels: map.pixels)))
        }
        // Per-layer tiles, in network order.
        let wanted = layers == "all" ? nil : Set(layers.split(separator: ",").map(String.init))
        let nodes = explainer.graph.nodes.filter { n in
            guard let t = e.layers[n.output], t.rank == 4, t.shape[2] * t.shape[3] > 1 else { return false }
            return wanted.map { $0.contains(n.name) || $0.contains(n.output) } ?? true
        }
        if let wanted, nodes.isEmpty { throw SRError.usage("--layers: none of \(wanted.sorted()) is a 4-D layer") }
        let showProgress = isatty(2) != 0
        var tiles: [(name: String, image: RGBImage)] = []
        var layerFigures: [Report.Figure] = []
        var tileNames = FileNames()
        for (i, node) in nodes.enumerated() {
            if showProgress { FileHandle.standardError.write(Data("\rrendering layer \(i + 1)/\(nodes.count)".utf8)) }
            guard let t = e.layers[node.output] else { continue }
            let image = try heat(t)
            try PNG.write(image, to: path("layers/" + tileNames.name(for: node.output, extension: ".png")))
            tiles.append((node.name, image))
            layerFigures.append(Report.Figure(title: node.name, png: try PNG.encode(width: w, height: h, channels: 3, pixels: image.pixels)))
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        try PNG.write(ContactSheet.make(tiles, columns: min(6, max(tiles.count, 1)), tileSize: max(96, min(w, 160))),
                      to: path("contact-sheet.png"))
        // The model's output from the explanation's own forward pass (no second pass).
        guard let output = explainer.graph.outputs.first, let scores = e.activations[output] else {
            throw SRError.internalError("no model output")
        }
        let ranked = try Classification.top(scores, k: top, isProbability: explainer.graph.endsInSoftmax)[0]
        let audit = audits[0]
        let report = Report(
            title: "\(modelArguments.model) — \(sources.first ?? "")",
            subtitle: "target \(e.targets[0])\(names.flatMap { e.targets[0] < $0.count ? " (\($0[e.targets[0]]))" : nil } ?? ""), "
                + "logit \(number(e.startValues[0])); heatmap: \(method == "lrp" ? "LRP" : method); "
                + "layer tiles and conservation chart: LRP (\(compositeName)), input relevance Σ \(number(Float(audit.inputRelevance)))",
            predictions: ranked.map { r in
                Report.Prediction(label: names.flatMap { $0.indices.contains(r.index) ? $0[r.index] : nil } ?? "class \(r.index)",
                                  probability: r.probability)
            },
            figures: figures, layers: layerFigures,
            conservation: [("input", audit.inputRelevance)] + audit.layers.map { ($0.node, $0.relevanceOut) },
            start: audit.start)
        try AtomicFile.write(Data(report.html.utf8), to: path("index.html"))
        try folder.commit()
        emit("wrote \((out as NSString).appendingPathComponent("index.html")): \(nodes.count) layer tiles, contact-sheet.png, heatmap.png\(sr ? ", sr.png" : "")")
    }
}

struct Colormaps: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the colour maps (name and control points).")

    func run() throws {
        emit(formatTable(Colormap.all.map { [$0.name, $0.source] }, rightAligned: []).joined(separator: "\n"))
    }
}
