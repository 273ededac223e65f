import Foundation
import SRCore

/// Where a Caffe net's weights come from: a binary caffemodel (blobs matched by layer
/// name, read from the mapped file) or Caffe-HDF5 (`data/<layer>/<i>`).
final class CaffeWeights {
    struct Blob {
        let shape: [Int]
        /// Legacy 4-D (`num, channels, height, width`) shapes match a smaller expected
        /// shape padded with leading ones, as Caffe's `Blob::ShapeEquals` allows.
        let legacy: Bool
        let load: ([Int]) throws -> Tensor

        func matches(_ expected: [Int]) -> Bool {
            if shape == expected { return true }
            guard legacy, shape.count == 4, expected.count <= 4 else { return false }
            return shape == [Int](repeating: 1, count: 4 - expected.count) + expected
        }

        func tensor(_ shape: [Int]) throws -> Tensor { try load(shape) }
    }

    let fileName: String
    private let lookup: (String) throws -> [Blob]?

    init(model: CaffeModelFile) {
        fileName = (model.path as NSString).lastPathComponent
        var byName: [String: CaffeBinaryLayer] = [:]
        for layer in model.layers where !layer.blobs.isEmpty && byName[layer.layer.name] == nil {
            byName[layer.layer.name] = layer
        }
        lookup = { name in
            byName[name].map { layer in
                layer.blobs.map { b in Blob(shape: b.shape, legacy: b.legacy, load: { try model.tensor(b, shape: $0) }) }
            }
        }
    }

    init(hdf5 file: HDF5File, limits: ImportLimits) throws {
        fileName = (file.path as NSString).lastPathComponent
        guard try file.isGroup("data") else {
            throw SRError.malformed("\(file.path): not Caffe-HDF5 weights (no 'data' group)")
        }
        lookup = { name in
            let group = "data/\(name)"
            guard try file.isGroup(group) else { return nil }
            var blobs: [Blob] = []
            while let info = try file.datasetInfo("\(group)/\(blobs.count)") {
                let path = "\(group)/\(blobs.count)"
                blobs.append(Blob(shape: info.shape, legacy: false, load: { shape in
                    let t = try file.readFloats(path, limits: limits)
                    return try t.reshaped(shape)
                }))
            }
            return blobs
        }
    }

    /// The blobs of a layer that needs weights; a layer without any is an error.
    func blobs(layer: String, type: String) throws -> [Blob] {
        guard let b = try lookup(layer), !b.isEmpty else {
            throw SRError.malformed("layer '\(layer)' (\(type)) has no weights in \(fileName)")
        }
        return b
    }
}
