import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRImage
import SRRender
import SRRuntime

struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a dataset: attributions of every image into one HDF5 file per shard (ViRelAy's layout), resumable, sharded for Slurm and Kubernetes.",
        usage: "srtool batch MODEL (--images DIR | --list FILE) --out DIR [--method M] [--composite C] [--target top|K|label] [--batch B] [--shard I/N | --shards N] [--inputs] [--heatmaps] [--force]",
        discussion: "--images DIR: the images of a folder (or files); --batch B: images explained at once (default 8). The README's Dataset runs section describes the output folder, sharding, resuming and merging (srtool merge).")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup(title: "Input") var inputArguments: InputArguments

    @Option(help: ArgumentHelp("A list of images, one path per line, optionally path<TAB>label (relative paths from the list's folder).", valueName: "file"))
    var list: String?

    @Option(help: ArgumentHelp("The output folder: attribution-I-of-N.h5 per shard (merge them with srtool merge).", valueName: "dir"))
    var out: String

    @Option(help: "Attribution method (the README's Methods table).")
    var method: MethodChoice = .lrp

    @Option(help: ArgumentHelp("This process's shard: I of N, counted from 0.", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("N shards, this process's from SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) or JOB_COMPLETION_INDEX.", valueName: "N"))
    var shards: Int?

    @Flag(help: "Start this shard again although its output was made with another model, method, options or input list.")
    var force = false

    @Flag(help: "Also write each heatmap as heatmaps/<input name>.png in the output folder.")
    var heatmaps = false

    @Flag(help: "Also write the preprocessed inputs, input-I-of-N.h5 (ViRelAy's input layout).")
    var inputs = false

    @Option(name: .customLong("progress-every"), help: ArgumentHelp("Without a terminal: one JSON progress line on stderr every N images.", valueName: "N"))
    var progressEvery = 100

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup(title: "LRP") var explainArguments: ExplainArguments
    @OptionGroup(title: "Other methods") var methodArguments: MethodArguments
    @OptionGroup(title: "Salient Relevance") var saliencyArguments: SaliencyArguments
    @OptionGroup(title: "Picture") var styleArguments: StyleArguments
    @OptionGroup(title: "Run") var runtime: RuntimeArguments
    @OptionGroup var progressArguments: ProgressArguments

    /// Images per batch (`--batch`, shared with the methods' forward batches).
    var batchSize: Int { methodArguments.batch ?? 8 }

    func validate() throws {
        guard progressEvery >= 1 else { throw ValidationError("--progress-every must be at least 1") }
        let ignored = explainArguments.ignored(by: method) + methodArguments.ignored(by: method).filter { $0 != "--batch" }
            + (method.method.usesSaliency ? [] : saliencyArguments.setOptions)
        if !ignored.isEmpty {
            Log.warning("\(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "is" : "are") ignored by --method \(method.name)")
        }
    }

    func run() throws {
        let shard = try Shard.resolve(shard: self.shard, shards: shards, environment: ProcessInfo.processInfo.environment)
        let items = try DatasetList.items(inputs: inputArguments, list: list)
        let graph = try modelArguments.loadForRunning()
        guard let graphInput = graph.inputs.first, graphInput.shape.count == 4 else {
            throw SRError.usage("batch explains images: the model's input must be N,C,H,W")
        }
        let (channels, height, width) = (graphInput.shape[1], graphInput.shape[2], graphInput.shape[3])
        let preprocessing = try inputArguments.preprocessing(for: graph)
        let labels = try classLabels(items, names: graph.metadata.labels)
        let target: Target? = explainArguments.target == "label" ? nil : try explainArguments.resolveTarget(labels: graph.metadata.labels)
        if target == nil, let missing = labels.firstIndex(where: { $0 == nil }) {
            throw SRError.usage("--target label needs a label for every image: \(items[missing].path) has none (give them in --list as path<TAB>label)")
        }
        if let caveat = method.method.caveat(for: graph) { Log.warning(caveat) }
        // A small network's batch runs as one-thread workers side by side (DataParallel): its
        // layers are too small to split across threads. A big network (VGG-16: 15 GMACs per
        // image) keeps its threads inside the kernels, which is faster there (measured with
        // Tools/bench/bench_batch.py).
        let macs = graph.totalMACs(shapes: (try? graph.inferShapes(batch: 1)) ?? [:])
        let workerCount = batchSize > 1 && macs < DataParallel.maxMACs ? min(runtime.threadCount, batchSize) : 1
        let budget = try modelArguments.budget()
        let runner = DataParallel(workers: try (0..<workerCount).map { _ in
            try MethodRunner(method: method, explainer: try Explainer(graph: graph, threads: workerCount > 1 ? 1 : runtime.threadCount, budget: budget),
                             graph: graph, input: Tensor(zeros: [1, channels, height, width]), preprocessing: preprocessing,
                             explainArguments: explainArguments, methodArguments: methodArguments, saliency: saliencyArguments)
        })
        let style = try styleArguments.style(for: method)

        let b = batchSize
        let mine = shard.batches(of: (items.count + b - 1) / b)
        let first = min(mine.lowerBound * b, items.count), end = min(mine.upperBound * b, items.count)
        let files = ShardFiles(out: out, shard: shard)
        try files.makeFolder()
        let header = ShardWork.Header(fingerprint: try fingerprint(graph, items: items, preprocessing: preprocessing, style: style),
                                      shard: shard.index, shards: shard.count, images: items.count, first: first, end: end,
                                      batch: b, inputs: inputs)

        if let record = try files.finished() {
            guard record.fingerprint == header.fingerprint || force else {
                throw SRError.usage("\(files.attribution) was made with another model, method, options or input list (fingerprint \(record.fingerprint), now \(header.fingerprint)); use another --out, or add --force to do this shard again")
            }
            if record.fingerprint == header.fingerprint && !force {
                try ShardWork.remove(files.work)
                return try finish(record, files: files, explained: 0)
            }
        }
        if force { try files.removeOutputs() }
        let work = try ShardWork(folder: files.work, header: header, force: force)

        let names = heatmaps ? try heatmapNames(items, files: files) : []
        let todo = work.committed..<mine.count
        let progress = BatchProgress(total: end - first, shard: shard, every: progressEvery, quiet: progressArguments.quiet)
        let decoder = BlockDecoder(items: items, preprocessing: preprocessing, channels: channels, height: height, width: width)
        let prefetch = Prefetch<BlockDecoder.Block>(count: todo.count) { j in
            let k = todo.lowerBound + j
            let lo = first + k * b
            return decoder.decode(lo..<min(lo + b, end))
        }
        defer { prefetch.stop() }
        var explained = 0
        progress.update(done: min(todo.lowerBound * b, end - first))
        for k in todo {
            let block = prefetch.take(k - todo.lowerBound)
            if !block.failed.isEmpty { progress.finish() }  // the warnings start on a clear line
            for f in block.failed { Log.warning("skipped \(f.error.hasPrefix(f.input) ? f.error : "\(f.input): \(f.error)")") }
            var entry = ShardWork.Block(block: k, first: block.range.lowerBound, count: block.range.count, rows: block.rows.count,
                                        targets: [], labels: [], failed: block.failed, shape: [], classes: 0, sum: Fingerprint().hex,
                                        threads: runtime.threadCount)
            if let x = block.x {
                let t = target ?? .each(block.rows.map { labels[$0] ?? 0 })
                let result = try runner.run(x, target: t)
                let map = result.raw
                let r = block.rows.count
                let prediction = try result.scores.reshaped([r, result.scores.count / max(r, 1)])
                entry.targets = result.targets
                entry.labels = zip(block.rows, entry.targets).map { labels[$0.0] ?? $0.1 }
                entry.shape = Array(map.shape.dropFirst())
                entry.classes = prediction.shape[1]
                var sum = Fingerprint()
                sum.add(map)
                sum.add(prediction)
                try NPY.write(map, to: work.path(k, "attribution"))
                try NPY.write(prediction, to: work.path(k, "prediction"))
                if inputs {
                    sum.add(x)
                    try NPY.write(x, to: work.path(k, "input"))
                }
                entry.sum = sum.hex
                if heatmaps {
                    for (n, i) in block.rows.enumerated() {
                        try Heatmap.picture(result.display, image: n, style: style).write(to: files.heatmap(names[i]))
                    }
                }
                explained += r
            }
            try work.commit(entry)
            progress.update(done: block.range.upperBound - first)
        }
        progress.finish()
        let record = try ShardAssembly(work: work, files: files, inputs: inputs, channels: channels, height: height, width: width)
            .write(items: items, model: modelArguments.model, method: method.name,
                   composite: method.usesComposite ? explainArguments.compositeName(for: method) : nil)
        try ShardWork.remove(files.work)
        try finish(record, files: files, explained: explained)
    }

    /// The summary on stdout; a run that skipped images ends with exit 65 after it.
    private func finish(_ record: BatchRecord, files: ShardFiles, explained: Int) throws {
        let summary = BatchSummary(shard: "\(files.shard.index)/\(files.shard.count)", images: record.end - record.first,
                                   first: record.first, end: record.end, rows: record.inputs.count,
                                   explainedNow: explained, failed: record.failed, wrote: files.written(record))
        emit(json ? try jsonText(summary) : summary.text)
        if let f = record.failed.first {
            throw SRError.malformed("\(record.failed.count) of \(record.end - record.first) images were skipped (the first: \(f.input)); they are listed in \(files.record)")
        }
    }

    /// Each image's class from its list label (an index or one of the model's label names).
    private func classLabels(_ items: [DatasetItem], names: [String]?) throws -> [Int?] {
        try items.map { item in
            guard let text = item.label else { return nil }
            if let k = Int(text), k >= 0 { return k }
            if let k = names?.firstIndex(of: text) { return k }
            throw SRError.usage("\(list ?? "the list"): the label '\(text)' of \(item.path) is neither a class index nor one of the model's labels")
        }
    }

    /// File names for the heatmaps, unique over the whole sorted list, so that shards
    /// name the same input alike without talking to each other.
    private func heatmapNames(_ items: [DatasetItem], files: ShardFiles) throws -> [String] {
        try files.makeHeatmapFolder()
        var used = FileNames()
        return items.map { used.name(for: (($0.path as NSString).lastPathComponent as NSString).deletingPathExtension, extension: ".png") }
    }

    /// What the shard computes: the model's graph and weights, the method and every option
    /// that changes a number, the preprocessing, the batch size and the input list.
    private func fingerprint(_ graph: Graph, items: [DatasetItem], preprocessing: Preprocessing,
                             style: HeatmapStyle) throws -> String {
        var f = Fingerprint()
        for input in graph.inputs { f.add("\(input.name) \(input.shape)") }
        f.add("\(graph.outputs)")
        for node in graph.nodes {
            f.add("\(node.name) \(node.op) \(node.inputs) \(node.outputs) \(node.params.sorted { $0.key < $1.key })")
        }
        for name in graph.weights.keys.sorted() {
            guard let w = graph.weights[name] else { continue }
            f.add(name)
            f.add(w)
        }
        let e = explainArguments, m = methodArguments, s = saliencyArguments
        f.add("method \(method.name) composite \(method.usesComposite ? e.compositeName(for: method) : "-") target \(e.target)")
        f.add("rules \(e.rules) sum \(String(describing: e.sumRule)) epsilon \(String(describing: e.epsilon)) gamma \(String(describing: e.gamma)) low \(String(describing: e.low)) high \(String(describing: e.high))")
        f.add("samples \(String(describing: m.samples)) noise \(String(describing: m.noise)) seed \(String(describing: m.seed)) steps \(String(describing: m.steps)) integration \(String(describing: m.integration)) window \(String(describing: m.window)) stride \(String(describing: m.stride)) layer \(String(describing: m.layer))")
        if let baseline = m.baseline { f.add("baseline"); let d = try readCapped(baseline, limit: 1 << 31); d.withUnsafeBytes { f.add($0) } }
        if method.method.usesSaliency { f.add("sr \(s.workingSize) \(String(describing: s.neighbours)) \(String(describing: s.threshold))") }
        f.add("preprocessing \(preprocessing)")
        f.add("batch \(batchSize) inputs \(inputs) heatmaps \(heatmaps)")
        if heatmaps {
            f.add("picture \(style.colormap) \(style.normalization) \(style.reduction) \(String(describing: style.clipPercentile))")
        }
        for item in items { f.add(item.path); f.add(item.label ?? "\u{0}") }
        return f.hex
    }
}

/// `batch --json` and its text. Field names are part of the CLI contract (docs/json.md).
struct BatchSummary: Encodable {
    var shard: String
    var images: Int
    var first: Int
    var end: Int
    var rows: Int
    var explainedNow: Int
    var failed: [BatchRecord.Failure]
    var wrote: [String]

    enum CodingKeys: String, CodingKey {
        case shard, images, first, end, rows, failed, wrote
        case explainedNow = "explained_now"
    }

    var text: String {
        var lines = ["shard \(shard): images \(first)..<\(end) of the sorted list, \(rows) explained (\(explainedNow) in this run), \(failed.count) skipped"]
        for f in failed { lines.append("  skipped \(f.error.hasPrefix(f.input) ? f.error : "\(f.input): \(f.error)")") }
        for w in wrote { lines.append("  wrote \(w)") }
        return lines.joined(separator: "\n")
    }
}
