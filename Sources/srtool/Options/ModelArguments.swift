import ArgumentParser
import SRCore
import SRFormats

/// The model argument and options every command that reads a model shares.
struct ModelArguments: ParsableArguments {
    @Argument(help: "Model file: ONNX (.onnx) or srtool's native .srm (detected from content).")
    var model: String

    @Option(name: .customLong("input-shape"), help: "Override the input shape, N,C,H,W.")
    var inputShape: String?

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
