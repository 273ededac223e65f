import ArgumentParser
import Foundation
import SRCore
import SREval
import SRExplain
import SRFormats
import SRImage
import SRRender
import SRRuntime

extension Metric: ExpressibleByArgument {}
extension Baseline: ExpressibleByArgument {}
extension Order: ExpressibleByArgument {}
extension Score: ExpressibleByArgument {}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score explanations: perturbation (pixel flipping, region perturbation, ROAD), complexity and localisation metrics, with Quantus 0.6.0's conventions.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments

    @Option(help: ArgumentHelp("Metrics, comma-separated: \(Metric.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "metric,…"))
    var metric: String

    @Option(help: ArgumentHelp("Methods computing the attributions, comma-separated: \(Method.all.map(\.name).joined(separator: ", ")) (default lrp).", valueName: "method,…"))
    var method: String?

    @Option(help: "A precomputed attribution (.npy, [N, C, H, W] or [N, 1, H, W]) instead of --method.")
    var attribution: String?

    @Option(help: "Precomputed attributions in ViRelAy's HDF5 layout (datasets index, attribution, label, prediction) instead of --method; row i explains input index[i].")
    var attributions: String?

    @Option(parsing: .upToNextOption, help: "Object masks, one per input in input order (PNG/JPEG, object where the grey value > 127).")
    var mask: [String] = []

    @Option(help: "A folder with one mask per input: NAME_mask.png or NAME.png for input NAME.ext.")
    var masks: String?

    @OptionGroup var explainArguments: ExplainArguments

    @Option(name: .customLong("features-per-step"), help: "pixel-flipping: pixels removed per step (each with all its channels).")
    var featuresPerStep = 1

    @Option(help: ArgumentHelp("pixel-flipping, region-perturbation: the value removed pixels take (\(Baseline.allCases.map(\.rawValue).joined(separator: ", "))).", valueName: "baseline"))
    var baseline: Baseline = .black

    @Option(help: ArgumentHelp("Most relevant first (morf) or least relevant first (lerf).", valueName: "order"))
    var order: Order = .morf

    @Option(help: "region-perturbation: side of the square regions in pixels.")
    var patch = 8

    @Option(help: "region-perturbation: regions removed (at most the image's).")
    var regions = 100

    @Option(help: "road: fractions of the pixels removed, comma-separated (default 0.01,0.03,…,0.99).")
    var percentages: String?

    @Option(help: "road: standard deviation of the imputation noise.")
    var noise = 0.01

    @Option(help: "pointing-game: also count a maximum this many pixels from the mask.")
    var tolerance = 0

    @Option(help: ArgumentHelp("The target's score the perturbation metrics read: probability (softmax, as Quantus) or logit.", valueName: "score"))
    var score: Score = .probability

    @Option(help: "Perturbed copies per forward pass.")
    var batch = 16

    @Option(help: "Seed of the uniform baseline and ROAD's noise.")
    var seed: UInt64 = 0

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @OptionGroup var runtime: RuntimeArguments

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be positive") }
        let sources = [method != nil, attribution != nil, attributions != nil].filter { $0 }.count
        guard sources <= 1 else { throw ValidationError("give one of --method, --attribution and --attributions") }
        guard mask.isEmpty || masks == nil else { throw ValidationError("give either --mask or --masks, not both") }
    }

    func run() throws {
        let metrics = try parseList(metric, option: "--metric") { Metric(rawValue: $0) }
        let graph = try modelArguments.loadForRunning()
        let (x, sources) = try inputs(for: graph)
        try modelArguments.checkInput(x)
        var options = MetricOptions()
        options.pixelFlipping = PixelFlipping(pixelsPerStep: featuresPerStep, baseline: baseline, order: order)
        options.regionPerturbation = RegionPerturbation(patch: patch, regions: regions, baseline: baseline, order: order)
        options.road = ROAD(percentages: try percentages.map { try parseFloats($0, option: "--percentages").map(Double.init) }
                                ?? ROAD.defaultPercentages, order: order, noise: noise)
        options.tolerance = tolerance
        try options.check(metrics, inputShape: x.shape)
        let maskList = try readMasks(sources, needed: metrics.contains(where: \.needsMask), shape: x.shape)
        let names = try labels.map(readLabels) ?? graph.metadata.labels
        let budget = try modelArguments.budget()
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount, budget: budget)
        let classified = try explainer.classify(x, try explainArguments.resolveTarget(labels: names))
        let maps = try attributionMaps(x, graph: graph, explainer: explainer, targets: classified.targets, sources: sources)
        let scorer = metrics.contains(where: \.needsModel)
            ? try Scorer(graph: graph, score: score, batch: batch, threads: runtime.threadCount, budget: budget) : nil
        var report = EvalReport(model: modelArguments.model)
        for (methodName, attribution) in maps {
            var random = SeededRandom(seed: seed)
            for n in 0..<x.shape[0] {
                let map = PixelMap(attribution, sample: n)
                for m in metrics {
                    let r = try Evaluation.run(m, input: x, sample: n, map: map, target: classified.targets[n],
                                               mask: maskList?[n].0, maskName: maskList?[n].1 ?? "the mask", scorer: scorer,
                                               options: options, random: &random)
                    report.add(input: sources[min(n, sources.count - 1)], method: methodName, target: classified.targets[n],
                               result: r, percentages: m == .road ? options.road.percentages : nil)
                }
            }
        }
        report.summarise(inputs: x.shape[0])
        emit(json ? try jsonText(report) : report.text)
    }

    /// The inputs: the shared input options (a folder's `*_mask.png` files are its masks).
    private func inputs(for graph: Graph) throws -> (Tensor, [String]) {
        try inputArguments.tensor(for: graph)
    }

    /// One mask per input and its name (for errors), when a metric needs them.
    private func readMasks(_ sources: [String], needed: Bool, shape: [Int]) throws -> [(Mask, String)]? {
        guard needed else { return nil }
        var paths = mask
        if let masks {
            paths = try sources.map { source in
                let stem = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
                let candidates = ["\(stem)_mask.png", "\(stem).png"].map { (masks as NSString).appendingPathComponent($0) }
                guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                    throw SRError.missing("no mask for \(source) in \(masks) (looked for \(stem)_mask.png, \(stem).png)")
                }
                return found
            }
        }
        guard !paths.isEmpty else { throw SRError.usage("the localisation metrics need --mask or --masks") }
        guard paths.count == shape[0] else {
            throw SRError.usage("\(paths.count) mask(s) for \(shape[0]) input(s)")
        }
        return try paths.map { path in
            let image = try RGBImage.read(path: path)
            guard image.height == shape[2], image.width == shape[3] else {
                throw SRError.malformed("mask \(path) is \(image.width)×\(image.height) pixels; the input is \(shape[3])×\(shape[2])")
            }
            return (Mask(height: image.height, width: image.width,
                         inside: (0..<(image.width * image.height)).map { image.pixels[$0 * 3] > 127 }), path)
        }
    }

    /// The attributions to score, by method (or file) name, each `[N, C, H, W]`.
    private func attributionMaps(_ x: Tensor, graph: Graph, explainer: Explainer, targets: [Int],
                                 sources: [String]) throws -> [(String, Tensor)] {
        if let attribution {
            let a = try NPY.read(path: attribution)
            try Evaluation.check(attribution: a.shape, input: x.shape)
            return [((attribution as NSString).lastPathComponent, a)]
        }
        if let attributions {
            let a = try AttributionFile.read(attributions, inputs: x.shape[0])
            try Evaluation.check(attribution: a.shape, input: x.shape)
            return [((attributions as NSString).lastPathComponent, a)]
        }
        let methods = try parseList(method ?? "lrp", option: "--method") { Method.named($0) }
        // z^B's bounds, as explain takes them: from the preprocessing of images.
        let preprocessing = inputArguments.hasImages ? try inputArguments.preprocessing(for: explainer.graph) : nil
        var options = MethodOptions()
        options.batch = batch
        options.seed = seed
        return try methods.map { m in
            if let caveat = m.caveat(for: explainer.graph) { Log.warning(caveat) }
            options.rules = try explainArguments.ruleSet(for: explainer, graph: graph, input: x, preprocessing: preprocessing)
            // Per input, for the targets chosen above.
            let maps = try (0..<x.shape[0]).map { n in
                try m.run(explainer, x.sample(n), target: .index(targets[n]), options: options).maps[0].display
            }
            return (m.name, try Tensor.stack(maps))
        }
    }
}

/// "a,b" → the values `make` knows, or one usage line naming the unknown one.
func parseList<T>(_ text: String, option: String, _ make: (String) -> T?) throws -> [T] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard !parts.isEmpty else { throw SRError.usage("\(option) needs at least one value") }
    return try parts.map { p in
        guard let v = make(p) else { throw SRError.usage("\(option): unknown value '\(p)'") }
        return v
    }
}

/// `eval --json`. Field names are part of the CLI contract.
struct EvalReport: Encodable {
    struct Item: Encodable {
        var input: String
        var method: String
        var target: Int
        var metric: String
        var score: Double
        var curve: [Double]?
        var auc: Double?
        var aopc: Double?
        var percentages: [Double]?
        var correct: [Bool]?
    }
    struct Summary: Encodable {
        var method: String
        var metric: String
        var mean: Double
        /// The 95 % interval's half width (Student's t).
        var interval: Double
        var count: Int
    }
    var model: String
    var results: [Item] = []
    var summary: [Summary]?

    init(model: String) { self.model = model }

    mutating func add(input: String, method: String, target: Int, result r: MetricResult, percentages: [Double]?) {
        results.append(Item(input: input, method: method, target: target, metric: r.metric.rawValue, score: r.score,
                            curve: r.curve, auc: r.auc, aopc: r.aopc, percentages: percentages, correct: r.correct))
    }

    /// Mean and interval per method and metric, for more than one input.
    mutating func summarise(inputs: Int) {
        guard inputs > 1 else { return }
        var keys: [(String, String)] = []
        for r in results where !keys.contains(where: { $0 == (r.method, r.metric) }) { keys.append((r.method, r.metric)) }
        summary = keys.map { method, metric in
            let i = Interval(results.filter { $0.method == method && $0.metric == metric }.map(\.score))
            return Summary(method: method, metric: metric, mean: i.mean, interval: i.halfWidth, count: i.count)
        }
    }

    var text: String {
        if let summary {
            let methods = summary.reduce(into: [String]()) { if !$0.contains($1.method) { $0.append($1.method) } }
            let metrics = summary.reduce(into: [String]()) { if !$0.contains($1.metric) { $0.append($1.metric) } }
            var table = [["method"] + metrics]
            for m in methods {
                table.append([m] + metrics.map { k in
                    summary.first { $0.method == m && $0.metric == k }.map { "\(fixed($0.mean)) ± \(fixed($0.interval))" } ?? ""
                })
            }
            let count = summary.first?.count ?? 0
            return (formatTable(table, rightAligned: Set(1...metrics.count))
                    + ["mean ± 95 % interval over \(count) inputs"]).joined(separator: "\n")
        }
        var lines: [String] = []
        var previous = ""
        for r in results {
            let head = "\(r.input): target \(r.target), method \(r.method)"
            if head != previous { lines.append(head); previous = head }
            var line = "  \(r.metric): \(fixed(r.score))"
            if let auc = r.auc, let aopc = r.aopc, let curve = r.curve {
                line += " (AUC \(fixed(auc)), AOPC \(fixed(aopc)), \(curve.count - 1) steps, score \(fixed(curve[0])) → \(fixed(curve.last ?? 0)))"
            } else if let correct = r.correct {
                line += " (target top at \(correct.filter { $0 }.count) of \(correct.count) percentages)"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// 4 significant digits, "nan" for NaN.
private func fixed(_ v: Double) -> String { v.isNaN ? "nan" : String(format: "%.4g", v) }
