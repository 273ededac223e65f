import Foundation
import SRCore

/// The model formats srtool reads, detected from content (the extension only breaks ties).
public enum ModelFormat: String, CaseIterable, Sendable {
    case onnx
    case srm
    case caffemodel
    case caffeHDF5
    case prototxt
    case keras
    case kerasZip

    /// Detects the format from the first bytes of the file. An HDF5 file is opened with
    /// libhdf5 to tell Keras from Caffe-HDF5, so `ModelLoader` calls this in the child when
    /// it isolates libhdf5 (`readsHDF5` decides that from bytes alone).
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
