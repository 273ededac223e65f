import Foundation
import ArgumentParser
import SRCore
import SRFormats
import SRRuntime

/// The model argument and options every command that reads a model shares.
struct ModelArguments: ParsableArguments {
    @Argument(help: "Model file: ONNX, Caffe (.caffemodel, .caffemodel.h5, .prototxt), Keras (.h5, .keras) or srtool's native .srm (detected from content); - reads it from standard input.")
    var model: String

    @Option(help: ArgumentHelp("Caffe: the deploy prototxt for a caffemodel (default: the *deploy*.prototxt, or only .prototxt, beside it).", visibility: .hidden))
    var prototxt: String?

    @Option(help: ArgumentHelp("Caffe: the weights (.caffemodel or .caffemodel.h5) for a prototxt (default: the only one beside it).", visibility: .hidden))
    var weights: String?

    @Option(help: ArgumentHelp("Keras: the architecture JSON (model.to_json()) for a weights-only .h5.", visibility: .hidden))
    var config: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Override the input shape, N,C,H,W.", visibility: .hidden))
    var inputShape: String?

    @Flag(name: .customLong("allow-nonfinite"), help: ArgumentHelp("Run even when weights or inputs hold NaN or Inf.", visibility: .hidden))
    var allowNonfinite = false

    @Option(name: .customLong("max-tensor-elements"), help: ArgumentHelp("Refuse a model with a weight or activation of more elements than this.", visibility: .hidden))
    var maxTensorElements = ImportLimits.default.maxTensorElements

    @Option(name: .customLong("max-nodes"), help: ArgumentHelp("Refuse a model with more nodes (layers) than this.", visibility: .hidden))
    var maxNodes = ImportLimits.default.maxNodes

    @Option(name: .customLong("max-memory"), help: ArgumentHelp("Refuse a run whose activations need more memory than this: bytes, or with a K, M, G or T suffix (decimal) (default: 75 % of the memory available).", valueName: "size", visibility: .hidden))
    var maxMemory: String?

    @Option(name: .customLong("max-macs"), help: ArgumentHelp("Refuse a model needing more multiply-accumulates per image than this.", visibility: .hidden))
    var maxMACs = RunBudget.defaultMACs

    @Option(name: .customLong("max-stdin-bytes"), help: ArgumentHelp("Largest model read from standard input (MODEL -).", visibility: .hidden))
    var maxStdinBytes = 4 << 30

    /// What a run may use (`--max-memory`, `--max-macs`).
    func budget() throws -> RunBudget {
        guard maxMACs >= 1 else { throw SRError.usage("--max-macs must be positive") }
        guard let text = maxMemory else { return RunBudget(maxMACs: maxMACs) }
        let units: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
        var number = text.uppercased(), scale = 1.0
        if number.hasSuffix("B") { number.removeLast() }
        if let unit = number.last, let s = units[unit] { scale = s; number.removeLast() }
        guard let value = Double(number), value.isFinite, value > 0, value * scale < 9e18 else {
            throw SRError.usage("--max-memory expects a size such as 8G or 500M, got '\(text)'")
        }
        return RunBudget(maxMemory: Int(value * scale), maxMACs: maxMACs)
    }

    /// The model, refused (exit 65) when a weight holds NaN or Inf, unless allowed.
    func loadForRunning() throws -> Graph {
        let graph = try load()
        let nonFinite = allowNonfinite ? [] : graph.nonFiniteWeights()
        if let bad = nonFinite.first {
            let more = nonFinite.count - 1
            throw SRError.malformed("weight '\(bad.name)' holds \(bad.count) NaN/Inf value(s)\(more > 0 ? " (and \(more) more weights)" : ""); pass --allow-nonfinite to run anyway")
        }
        return graph
    }

    /// Refuses an input holding NaN or Inf, unless allowed.
    func checkInput(_ x: Tensor) throws {
        let n = x.nonFiniteCount
        if n > 0 && !allowNonfinite {
            throw SRError.malformed("the input holds \(n) NaN/Inf value(s); pass --allow-nonfinite to run anyway")
        }
    }

    /// The model, read by SRFormats' `ModelLoader` (which isolates libhdf5: main.swift serves
    /// its child); what the importer decided is said after a successful load only, so that
    /// a failure stays one line on stderr. From here on, freed memory stays in the heap for
    /// the layers to come (`LinuxSystem.keepFreedMemory`).
    func load() throws -> Graph {
        let options = try modelOptions()
        let loaded = model == "-" ? try ModelLoader.loadStandardInput(maxBytes: maxStdinBytes, options: options)
            : try ModelLoader.load(path: model, options: options)
        LinuxSystem.keepFreedMemory()
        for line in loaded.notices { Log.info("srtool: \(line)") }
        return loaded.graph
    }

    /// The options as `ModelLoader` takes them.
    private func modelOptions() throws -> ModelOptions {
        let shape = try inputShape.map { try parseInts($0, option: "--input-shape", count: nil) }
        if let shape, shape.isEmpty || shape.contains(where: { $0 < 1 }) {
            throw SRError.usage("--input-shape needs positive dimensions, got '\(inputShape ?? "")'")
        }
        guard maxTensorElements >= 1, maxNodes >= 1 else {
            throw SRError.usage("--max-tensor-elements and --max-nodes must be positive")
        }
        return ModelOptions(inputShape: shape, limits: ImportLimits(maxTensorElements: maxTensorElements, maxNodes: maxNodes),
                            prototxt: prototxt, weights: weights, config: config)
    }
}

/// Parses "1,3,224,224".
func parseInts(_ text: String, option: String, count: Int?) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.compactMap { Int($0) }
    guard values.count == parts.count, count == nil || values.count == count else {
        throw SRError.usage("\(option) expects \(count.map { "\($0) " } ?? "")comma-separated integers, got '\(text)'")
    }
    return values
}

func parseFloats(_ text: String, option: String) throws -> [Float] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.compactMap { Float($0) }
    guard values.count == parts.count, values.allSatisfy(\.isFinite) else {
        throw SRError.usage("\(option) expects comma-separated numbers, got '\(text)'")
    }
    return values
}
