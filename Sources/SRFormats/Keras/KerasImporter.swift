import Foundation
import SRCore
import ZIPFoundation

/// Keras → Graph: a full-model `.h5` (legacy HDF5: `model_config` + `model_weights`), a
/// weights-only `.h5` with its architecture JSON (`--config`), or a Keras 3 `.keras` zip
/// (`config.json` + `model.weights.h5`). Channels-last tensors become NCHW; see
/// `KerasLowering.swift` for the layer table.
public enum KerasImporter {
    /// A zip whose first entry header is where a `.keras` file has it.
    public static func sniffZip(_ head: Data) -> Bool { head.starts(with: [0x50, 0x4b, 0x03, 0x04]) }

    /// True when the HDF5 file holds a Keras model or Keras weights.
    static func isKeras(_ file: HDF5File) throws -> Bool {
        if try file.stringsAttribute("model_config") != nil { return true }
        if try file.stringsAttribute("layer_names") != nil { return true }
        return try file.isGroup("model_weights") || file.isGroup("layers")
    }

    public static func load(path: String, format: ModelFormat, options: ModelOptions) throws -> Graph {
        let name = (path as NSString).lastPathComponent
        var files = [name]
        let configJSON: Data?
        let weights: KerasWeights
        var config: KerasConfig
        var scratch: String?
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        switch format {
        case .keras:
            let file = try HDF5File(path: path)
            if let text = try file.stringsAttribute("model_config")?.first {
                guard options.config == nil else {
                    throw SRError.usage("\(name) holds its own architecture; --config is for weights-only files")
                }
                configJSON = Data(text.utf8)
            } else {
                configJSON = try options.config.map { try readConfig($0) }
                if let c = options.config { files.append((c as NSString).lastPathComponent) }
            }
            guard let configJSON else {
                throw SRError.usage("\(name) holds weights only; give the architecture JSON (model.to_json()) with --config")
            }
            config = try KerasConfig.parse(json: configJSON, source: name)
            if try file.isGroup("model_weights") {
                weights = KerasWeights(legacy: file, root: "model_weights", parents: config.parents)
            } else if try file.stringsAttribute("layer_names") != nil {
                weights = KerasWeights(legacy: file, root: "", parents: config.parents)
            } else if try file.isGroup("layers") {
                weights = try KerasWeights(keras3: file, config: config)
            } else {
                throw SRError.malformed("\(name): a Keras model without weights (no model_weights group)")
            }
        case .kerasZip:
            let archive: Archive
            do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
                throw SRError.malformed("\(name): not a readable zip archive")
            }
            guard let configEntry = archive["config.json"] else {
                throw SRError.malformed("\(name): a zip without config.json, not a Keras 3 .keras file")
            }
            guard let weightsEntry = archive["model.weights.h5"] else {
                throw SRError.malformed("\(name): a .keras file without model.weights.h5")
            }
            let limit = 64 << 20
            guard configEntry.uncompressedSize < limit else { throw SRError.malformed("\(name): config.json of \(configEntry.uncompressedSize) bytes") }
            var json = Data()
            do {
                _ = try archive.extract(configEntry, skipCRC32: false) { json.append($0) }
            } catch {
                throw SRError.malformed("\(name): cannot unpack config.json (\(error))")
            }
            config = try KerasConfig.parse(json: json, source: "\(name)/config.json")
            // libhdf5 reads files: the weights go to a private temporary copy. A zip bomb
            // cannot fill the disk: the entry must fit the free space by its declared size,
            // and unpacking stops where that size ends.
            let tmp = NSTemporaryDirectory() + "/srtool-keras-\(getpid())-\(UInt32.random(in: 0 ... .max)).weights.h5"
            let declared = Int(clamping: weightsEntry.uncompressedSize)
            var fs = statvfs()
            if statvfs(NSTemporaryDirectory(), &fs) == 0, UInt64(declared) > UInt64(fs.f_bavail) * UInt64(fs.f_frsize) / 2 {
                throw SRError.malformed("\(name): model.weights.h5 claims \(declared) bytes, more than half the free space in \(NSTemporaryDirectory())")
            }
            guard FileManager.default.createFile(atPath: tmp, contents: nil), let out = FileHandle(forWritingAtPath: tmp) else {
                throw SRError.cannotWrite("cannot create a temporary file \(tmp)")
            }
            scratch = tmp
            defer { try? out.close() }
            var written = 0
            do {
                _ = try archive.extract(weightsEntry, skipCRC32: false) { chunk in
                    written += chunk.count
                    guard written <= declared else {
                        throw SRError.malformed("\(name): model.weights.h5 unpacks to more than its declared \(declared) bytes")
                    }
                    try out.write(contentsOf: chunk)
                }
            } catch let e as SRError {
                throw e
            } catch {
                throw SRError.malformed("\(name): cannot unpack model.weights.h5 (\(error))")
            }
            weights = try KerasWeights(keras3: HDF5File(path: tmp, label: "\(name)/model.weights.h5"), config: config)
        default:
            throw SRError.internalError("KerasImporter given a \(format) file")
        }
        let builder = KerasGraphBuilder(config: config, weights: weights, options: options)
        var graph = try builder.build()
        graph.metadata.sourceFiles = files
        return graph
    }

    private static func readConfig(_ path: String) throws -> Data {
        try InputFile.read(path)
    }
}
