import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRImage

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model to srtool's native .srm file (safetensors + graph) or to ONNX.")

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .short, help: "Output file: .srm or .onnx (default: <model name>.srm beside the input).")
    var output: String?

    @Option(help: "Class labels to store in the file, one per line.")
    var labels: String?

    @Option(help: "Preprocessing preset to store in the file (see srtool presets).")
    var preprocess: PresetChoice?

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup var progressArguments: ProgressArguments

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
        if let preprocess { graph.metadata.preprocess = preprocess.name }
        if let labels {
            let names = try readLabels(labels)
            // One label per class of the (first) output, whose last axis holds the classes.
            if let output = graph.outputs.first, let classes = try graph.inferShapes()[output]?.last, names.count != classes {
                throw SRError.usage("--labels \(labels) names \(names.count) classes; the model's output has \(classes)")
            }
            graph.metadata.labels = names
        }
        let parameters = graph.weights.values.reduce(0) { $0 + $1.count }
        let progress = progressArguments.progress("writing \((target as NSString).lastPathComponent)", total: parameters * 4 / 1_000_000,
                                                  unit: "MB")
        if toONNX {
            try ONNXExporter.write(graph, to: target)
        } else {
            try SRMFile.write(graph, to: target, progress: progress.update)
        }
        progress.finish()
        if json {
            emit(try jsonText(ConvertReport(model: modelArguments.model, wrote: target, format: toONNX ? "onnx" : "srm",
                                            layers: graph.nodes.count, parameters: parameters,
                                            preprocess: graph.metadata.preprocess, labels: graph.metadata.labels?.count)))
        } else {
            Log.info("wrote \(target): \(graph.nodes.count) layers, \(grouped(parameters)) parameters")
        }
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

/// `convert --json`. Field names are part of the CLI contract (docs/json.md).
struct ConvertReport: Encodable {
    var model: String
    var wrote: String
    var format: String
    var layers: Int
    var parameters: Int
    var preprocess: String?
    var labels: Int?
}

struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the preprocessing presets: resize and crop, channels, scale, mean, std.")

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    struct Entry: Encodable {
        var name: String, summary: String, channels: String, scale: Float, mean: [Float], std: [Float]
        var cropFraction: Double?
    }

    func run() throws {
        let entries = Preset.all.map { p in
            let q = p.preprocessing
            return Entry(name: p.name, summary: p.summary, channels: q.grayscale ? "gray" : (q.bgr ? "BGR" : "RGB"),
                         scale: q.scale, mean: q.mean, std: q.std, cropFraction: q.cropFraction)
        }
        emit(json ? try jsonText(entries) : formatTable(entries.map { [$0.name, $0.summary] }, rightAligned: []).joined(separator: "\n"))
    }
}
