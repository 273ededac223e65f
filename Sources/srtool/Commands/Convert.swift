import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRRender

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model to srtool's native .srm file (safetensors + graph) or to ONNX.")

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .short, help: "Output file: .srm or .onnx (default: <model name>.srm beside the input).")
    var output: String?

    @Option(help: "Class labels to store in the file, one per line.")
    var labels: String?

    @Option(help: ArgumentHelp("Preprocessing preset to store in the file: \(Preset.all.map(\.name).joined(separator: ", ")).",
                               valueName: "preset"))
    var preprocess: String?

    func run() throws {
        if modelArguments.model == "-" && output == nil {
            throw SRError.usage("a model read from standard input needs -o OUT.srm or -o OUT.onnx")
        }
        var graph = try modelArguments.load()
        let target = output ?? Self.defaultOutput(for: modelArguments.model)
        let toONNX = target.hasSuffix(".onnx")
        guard toONNX || target.hasSuffix(".srm") else {
            throw SRError.usage("output '\(target)' must end in .srm or .onnx")
        }
        if let preprocess {
            guard Preset.named(preprocess) != nil else {
                throw SRError.usage("unknown preset '\(preprocess)' (known: \(Preset.all.map(\.name).joined(separator: ", ")))")
            }
            graph.metadata.preprocess = preprocess
        }
        if let labels {
            let names = try readLabels(labels)
            // One label per class of the (first) output, whose last axis holds the classes.
            if let output = graph.outputs.first, let classes = try graph.inferShapes()[output]?.last, names.count != classes {
                throw SRError.usage("--labels \(labels) names \(names.count) classes; the model's output has \(classes)")
            }
            graph.metadata.labels = names
        }
        let parameters = graph.weights.values.reduce(0) { $0 + $1.count }
        let progress = Progress("writing \((target as NSString).lastPathComponent)", bytes: parameters * 4)
        if toONNX {
            try ONNXExporter.write(graph, to: target)
        } else {
            try SRMFile.write(graph, to: target, progress: progress.update)
        }
        progress.finish()
        Log.info("wrote \(target): \(graph.nodes.count) layers, \(grouped(parameters)) parameters")
    }

    /// `<name>.srm` beside the model, without its model extensions (`vgg.caffemodel.h5` → `vgg.srm`).
    static func defaultOutput(for model: String) -> String {
        var base = model
        for ext in [".h5", ".caffemodel", ".prototxt", ".onnx", ".srm"] where base.hasSuffix(ext) {
            base = String(base.dropLast(ext.count))
        }
        if base == model { base = (model as NSString).deletingPathExtension }
        return base + ".srm"
    }
}

struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the preprocessing presets.")

    func run() throws {
        emit(formatTable(Preset.all.map { [$0.name, $0.summary] }, rightAligned: []).joined(separator: "\n"))
    }
}
