import ArgumentParser
import Foundation
import SRCore
import SRRuntime

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Classify images: the top classes with probabilities.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments

    @Option(help: "How many classes to show.")
    var top: Int = 5

    @Option(help: "Class labels, one per line (default: the model's).")
    var labels: String?

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup var runtime: RuntimeArguments
    @OptionGroup var progressArguments: ProgressArguments

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let loadedGraph = try modelArguments.loadForRunning()
        LinuxSystem.reuseFreedMemoryAcrossSizes()  // forward passes only
        let names = try labels.map(readLabels) ?? loadedGraph.metadata.labels
        let inputs = try inputArguments.sources()
        // Handed over, so the executor can repack the linear layers' weights without a second copy.
        let executor = try Executor(graph: consume loadedGraph, threads: runtime.threadCount,
                                    budget: try modelArguments.budget(), packWeights: true)
        let graph = executor.graph
        // Images in batches of 16 (bounded memory over a folder); a .npy batch at once.
        let chunks: [[InputSource]] = inputs.first?.isTensor == true ? [inputs]
            : stride(from: 0, to: inputs.count, by: 16).map { Array(inputs[$0..<min($0 + 16, inputs.count)]) }
        let progress = progressArguments.progress("predicting", total: inputs.count, unit: "images")
        var ranked: [[RankedClass]] = [], sources: [String] = []
        for (c, chunk) in chunks.enumerated() {
            let (x, inputNames) = try inputArguments.tensor(for: graph, sources: chunk)
            try modelArguments.checkInput(x)
            guard let scores = try executor.outputs(x).first else { throw SRError.internalError("no output") }
            if c == 0, let labels = names, let classes = scores.shape.last, labels.count != classes {
                Log.warning("\(labels.count) labels for \(classes) classes")
            }
            ranked += try Classification.top(scores, k: top, isProbability: graph.endsInSoftmax)
            sources += inputNames
            progress.update(Double(c + 1) / Double(chunks.count))
        }
        progress.finish()
        let report = PredictionReport(model: modelArguments.model, sources: sources, ranked: ranked, labels: names)
        emit(json ? try jsonText(report) : report.text)
    }
}

func readLabels(_ path: String) throws -> [String] {
    let data = try InputFile.read(path)
    return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .reversed().drop(while: \.isEmpty).reversed()
}

/// `predict --json`. Field names are part of the CLI contract.
struct PredictionReport: Encodable {
    struct Entry: Encodable { var index: Int; var label: String?; var probability: Float; var score: Float }
    struct Item: Encodable { var input: String; var predictions: [Entry] }
    var model: String
    var results: [Item]

    init(model: String, sources: [String], ranked: [[RankedClass]], labels: [String]?) {
        self.model = model
        results = ranked.enumerated().map { i, row in
            Item(input: i < sources.count ? sources[i] : "#\(i)", predictions: row.map { r in
                Entry(index: r.index, label: labels.flatMap { r.index < $0.count ? $0[r.index] : nil },
                      probability: r.probability, score: r.score)
            })
        }
    }

    var text: String {
        results.map { item in
            var table = [["rank", "class", "label", "probability", "score"]]
            for (i, e) in item.predictions.enumerated() {
                table.append(["\(i + 1)", "\(e.index)", e.label ?? "", String(format: "%.4f", e.probability), number(e.score)])
            }
            return ([item.input] + formatTable(table, rightAligned: [0, 1, 3, 4])).joined(separator: "\n")
        }.joined(separator: "\n\n")
    }
}
