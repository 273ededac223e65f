import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRRender

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model to srtool's native .srm file (safetensors + graph).")

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .short, help: "Output file (default: <model name>.srm beside the input).")
    var output: String?

    @Option(help: "Class labels to store in the file, one per line.")
    var labels: String?

    @Option(help: ArgumentHelp("Preprocessing preset to store in the file: \(Preset.all.map(\.name).joined(separator: ", ")).",
                               valueName: "preset"))
    var preprocess: String?

    func run() throws {
        var graph = try modelArguments.load()
        let target = output ?? ((modelArguments.model as NSString).deletingPathExtension + ".srm")
        guard target.hasSuffix(".srm") else {
            throw SRError.usage("output '\(target)' must end in .srm (the only format srtool writes)")
        }
        if let preprocess {
            guard Preset.named(preprocess) != nil else {
                throw SRError.usage("unknown preset '\(preprocess)' (known: \(Preset.all.map(\.name).joined(separator: ", ")))")
            }
            graph.metadata.preprocess = preprocess
        }
        if let labels { graph.metadata.labels = try readLabels(labels) }
        try SRMFile.write(graph, to: target)
        Log.info("wrote \(target): \(graph.nodes.count) layers, \(grouped(graph.weights.values.reduce(0) { $0 + $1.count })) parameters")
    }
}

struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the preprocessing presets.")

    func run() throws {
        emit(formatTable(Preset.all.map { [$0.name, $0.summary] }, rightAligned: []).joined(separator: "\n"))
    }
}
