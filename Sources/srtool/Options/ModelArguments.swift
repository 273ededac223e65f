import ArgumentParser
import SRCore
import SRFormats

/// The model argument and options every command that reads a model shares.
struct ModelArguments: ParsableArguments {
    @Argument(help: "Model file: ONNX (.onnx) or srtool's native .srm (detected from content).")
    var model: String

    @Option(name: .customLong("input-shape"), help: "Override the input shape, N,C,H,W.")
    var inputShape: String?

    @Flag(name: .customLong("allow-nonfinite"), help: "Run even when weights or inputs hold NaN or Inf.")
    var allowNonfinite = false

    /// The model, refused (exit 65) when a weight holds NaN or Inf, unless allowed.
    func loadForRunning() throws -> Graph {
        let graph = try load()
        if !allowNonfinite, let bad = graph.nonFiniteWeights().first {
            let more = graph.nonFiniteWeights().count - 1
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
    func load() throws -> Graph {
        let shape = try inputShape.map { try parseInts($0, option: "--input-shape", count: nil) }
        if let shape, shape.isEmpty || shape.contains(where: { $0 < 1 }) {
            throw SRError.usage("--input-shape needs positive dimensions, got '\(inputShape ?? "")'")
        }
        return try ModelLoader.load(path: model, options: ModelOptions(inputShape: shape))
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
