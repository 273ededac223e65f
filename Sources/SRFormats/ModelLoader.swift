import Foundation
import SRCore

/// Options every model-reading command shares.
public struct ModelOptions: Sendable {
    /// Overrides the input shape the file declares (`N,C,H,W`).
    public var inputShape: [Int]?
    public var limits: ImportLimits

    public init(inputShape: [Int]? = nil, limits: ImportLimits = .default) {
        self.inputShape = inputShape
        self.limits = limits
    }
}

/// The model formats srtool reads, detected from content (the extension only breaks ties).
public enum ModelFormat: String, CaseIterable, Sendable {
    case onnx
    case srm

    /// Detects the format from the first bytes of the file.
    public static func detect(path: String) throws -> ModelFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                throw SRError.missing("\(path): cannot read\(isDir.boolValue ? " (a folder)" : "")")
            }
            throw SRError.missing("\(path): no such file")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        guard !head.isEmpty else { throw SRError.malformed("\(path): empty file") }
        if SRMFile.sniff(head) { return .srm }
        if ONNXImporter.sniff(head) { return .onnx }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) {
            throw SRError.malformed("\(path): a .npy array, not a model (pass it with --input)")
        }
        if head.starts(with: [0x89, 0x50, 0x4e, 0x47]) || head.starts(with: [0xff, 0xd8, 0xff]) {
            throw SRError.malformed("\(path): an image, not a model (pass it with --image)")
        }
        throw SRError.malformed("\(path): not a model srtool recognises (expected ONNX or .srm)")
    }
}

public enum ModelLoader {
    public static func load(path: String, options: ModelOptions = ModelOptions()) throws -> Graph {
        var graph: Graph
        switch try ModelFormat.detect(path: path) {
        case .onnx:
            graph = try ONNXImporter.load(path: path, inputShape: options.inputShape, limits: options.limits)
        case .srm:
            graph = try SRMFile.load(path: path, limits: options.limits)
            if let shape = options.inputShape {
                guard graph.inputs.count == 1 else { throw SRError.usage("--input-shape given but the model has \(graph.inputs.count) inputs") }
                graph.inputs[0].shape = shape
                try graph.validate()
            }
        }
        return graph
    }
}
