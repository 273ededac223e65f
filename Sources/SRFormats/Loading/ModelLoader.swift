import Foundation
import SRCore
import Synchronization

/// A model read from a file, and what the importer decided or ignored on the way (a
/// companion file found beside the model, a fork's field skipped), for the caller to tell
/// the user: the library never prints.
public struct LoadedModel: Sendable {
    public var graph: Graph
    public var notices: [String]

    public init(graph: Graph, notices: [String] = []) {
        self.graph = graph
        self.notices = notices
    }
}

/// Reads any model srtool knows: detects the format from the content, finds companion
/// files (a caffemodel's deploy prototxt, a prototxt's weights), and reads a file that
/// goes through libhdf5 in a child process when the program allows it (`Isolation`).
///
/// libhdf5 is C and outside Swift's safety: fuzzing made it spin forever and read out of
/// bounds on crafted files. A program that reads such files should call
/// `ModelLoader.serveIsolatedChildIfRequested()` first thing in `main`: the child is the
/// same executable (`/proc/self/exe`), and that call is where it does its work and exits.
public enum ModelLoader {
    public static func load(path: String, options: ModelOptions = ModelOptions()) throws -> LoadedModel {
        if try isolates(path: path, options: options) { return try IsolatedLoad.load(path: path, options: options) }
        return try loadInProcess(path: path, options: options)
    }

    /// A model on standard input, of at most `maxBytes` bytes: copied to a private file
    /// first (the importers map files, and a child reads a path), removed afterwards.
    public static func loadStandardInput(maxBytes: Int, options: ModelOptions = ModelOptions()) throws -> LoadedModel {
        let folder = NSTemporaryDirectory() + "/srtool-stdin-\(getpid())-\(String(UInt32.random(in: 0 ... .max), radix: 16))"
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot create a temporary folder \(folder)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/stdin"
        try InputFile.copyStandardInput(to: path, maxBytes: maxBytes)
        return try load(path: path, options: options)
    }

    /// Makes this executable able to read libhdf5 files in a child process of itself.
    /// Call it first thing in `main`, before any other work or output: in a child this
    /// process was started as, it reads the model it was asked for, reports back and exits;
    /// elsewhere it returns at once.
    public static func serveIsolatedChildIfRequested() {
        childServed.store(true, ordering: .relaxed)
        IsolatedLoad.serveIfRequested()
    }

    /// Whether `serveIsolatedChildIfRequested()` has run in this process.
    public static var isolationAvailable: Bool { childServed.load(ordering: .relaxed) }
    private static let childServed = Atomic(false)

    /// Whether `path` is read in a child: only files read through libhdf5, decided from
    /// their first bytes (opening them to detect the format is already libhdf5's work).
    private static func isolates(path: String, options: ModelOptions) throws -> Bool {
        switch options.isolation {
        case .inProcess:
            return false
        case .automatic:
            return isolationAvailable && ModelFormat.readsHDF5(path: path, options: options)
        case .isolated:
            guard ModelFormat.readsHDF5(path: path, options: options) else { return false }
            guard isolationAvailable else {
                throw SRError.usage("\(path) is read through libhdf5, which runs in a child process: call ModelLoader.serveIsolatedChildIfRequested() first thing in main, or load with isolation .inProcess")
            }
            return true
        }
    }

    /// The import itself, in this process (the child's work, or the whole of it when
    /// libhdf5 is not isolated).
    static func loadInProcess(path: String, options: ModelOptions) throws -> LoadedModel {
        let format = try ModelFormat.detect(path: path)
        switch format {
        case .onnx:
            return LoadedModel(graph: try ONNXImporter.load(path: path, inputShape: options.inputShape, limits: options.limits))
        case .keras, .kerasZip:
            return LoadedModel(graph: try KerasImporter.load(path: path, format: format, options: options))
        case .caffemodel, .caffeHDF5, .prototxt:
            return try CaffeImporter.load(path: path, format: format, options: options)
        case .srm:
            var graph = try SRMFile.load(path: path, limits: options.limits)
            if let shape = options.inputShape {
                guard graph.inputs.count == 1 else { throw SRError.usage("--input-shape given but the model has \(graph.inputs.count) inputs") }
                graph.inputs[0].shape = shape
                try graph.validate()
            }
            return LoadedModel(graph: graph)
        }
    }
}
