import Foundation
import SRCore

/// Options every model-reading command shares.
public struct ModelOptions: Sendable {
    /// Overrides the input shape the file declares (`N,C,H,W`).
    public var inputShape: [Int]?
    public var limits: ImportLimits
    /// Caffe: the deploy prototxt for a caffemodel (else one found beside it).
    public var prototxt: String?
    /// Caffe: the weights for a prototxt (else one found beside it).
    public var weights: String?
    /// Keras: the architecture JSON for a weights-only .h5.
    public var config: String?
    /// Receives what the importer decided or ignored (a companion file found beside the
    /// model, a fork's field skipped); the CLI prints it on stderr.
    public var notice: @Sendable (String) -> Void

    public init(inputShape: [Int]? = nil, limits: ImportLimits = .default, prototxt: String? = nil,
                weights: String? = nil, config: String? = nil, notice: @escaping @Sendable (String) -> Void = { _ in }) {
        self.inputShape = inputShape
        self.limits = limits
        self.prototxt = prototxt
        self.weights = weights
        self.config = config
        self.notice = notice
    }
}

/// The model formats srtool reads, detected from content (the extension only breaks ties).
public enum ModelFormat: String, CaseIterable, Sendable {
    case onnx
    case srm
    case caffemodel
    case caffeHDF5
    case prototxt
    case keras
    case kerasZip

    /// Detects the format from the first bytes of the file.
    public static func detect(path: String) throws -> ModelFormat {
        try InputFile.checkRegular(path)
        guard let handle = FileHandle(forReadingAtPath: path) else { throw SRError.missing("\(path): cannot read") }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        guard !head.isEmpty else { throw SRError.malformed("\(path): empty file") }
        if SRMFile.sniff(head) { return .srm }
        if ONNXImporter.sniff(head) { return .onnx }
        if HDF5File.sniff(head) {
            let file = try HDF5File(path: path)
            if try KerasImporter.isKeras(file) { return .keras }
            if try file.isGroup("data") { return .caffeHDF5 }
            throw SRError.malformed("\(path): an HDF5 file that is neither Caffe-HDF5 weights nor a Keras model")
        }
        if KerasImporter.sniffZip(head) { return .kerasZip }
        if CaffeImporter.sniffBinary(head) { return .caffemodel }
        if CaffeImporter.sniffText(head) { return .prototxt }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) {
            throw SRError.malformed("\(path): a .npy array, not a model (pass it with --input)")
        }
        if head.starts(with: [0x89, 0x50, 0x4e, 0x47]) || head.starts(with: [0xff, 0xd8, 0xff]) {
            throw SRError.malformed("\(path): an image, not a model (pass it with --image)")
        }
        throw SRError.malformed("\(path): not a model srtool recognises (expected ONNX, Caffe, Keras or .srm)")
    }
}

public enum ModelLoader {
    public static func load(path: String, options: ModelOptions = ModelOptions()) throws -> Graph {
        var graph: Graph
        let format = try ModelFormat.detect(path: path)
        switch format {
        case .onnx:
            graph = try ONNXImporter.load(path: path, inputShape: options.inputShape, limits: options.limits)
        case .keras, .kerasZip:
            graph = try KerasImporter.load(path: path, format: format, options: options)
        case .caffemodel, .caffeHDF5, .prototxt:
            graph = try CaffeImporter.load(path: path, format: format, options: options)
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

extension ModelFormat {
    /// True when reading `path` (with the companion files `options` names or the importer
    /// would find beside it) goes through libhdf5: Caffe-HDF5 weights, Keras `.h5`, or a
    /// `.keras` zip (which holds an HDF5 file).
    public static func readsHDF5(path: String, options: ModelOptions) -> Bool {
        func head(_ p: String) -> Data {
            guard (try? InputFile.checkRegular(p)) != nil, let h = FileHandle(forReadingAtPath: p) else { return Data() }
            defer { try? h.close() }
            return (try? h.read(upToCount: 4096)) ?? Data()
        }
        let bytes = head(path)
        if HDF5File.sniff(bytes) || KerasImporter.sniffZip(bytes) { return true }
        guard CaffeImporter.sniffText(bytes) else { return false }
        guard let weights = options.weights ?? (try? CaffeImporter.findBeside(path, suffixes: [".caffemodel", ".caffemodel.h5"], preferring: nil)) ?? nil else {
            return false
        }
        return HDF5File.sniff(head(weights))
    }
}
