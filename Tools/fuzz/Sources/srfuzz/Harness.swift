import Foundation
import SRCore
import SRFormats
import SRImage
import SRRuntime

/// One libFuzzer entry point for every reader; `SRFUZZ_TARGET` picks the reader. Each
/// input is written to a private file (the model readers map files) and read; an SRError
/// is the expected answer to a bad file, anything else — a crash, an ASan report, a hang,
/// runaway memory — is a finding. A model that loads is also run once on a small input.
enum Harness: String, CaseIterable {
    case onnx, caffemodel, prototxt, caffeHDF5 = "caffe-hdf5", kerasH5 = "keras-h5", kerasZip = "keras-zip", srm, npy, png, jpeg

    static let current: Harness = {
        guard let name = ProcessInfo.processInfo.environment["SRFUZZ_TARGET"], let h = Harness(rawValue: name) else {
            fatalError("set SRFUZZ_TARGET to one of: \(Harness.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return h
    }()

    /// Companion files from the fixtures (set by Tools/fuzz/run).
    static let fixtures = ProcessInfo.processInfo.environment["SRFUZZ_FIXTURES"] ?? "Fixtures"

    /// In memory (/dev/shm) where the machine has it, else the temporary folder.
    static let folder: String = {
        for base in ["/dev/shm", NSTemporaryDirectory()] {
            let dir = "\(base)/srfuzz-\(getpid())"
            if (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil,
               FileManager.default.isWritableFile(atPath: dir) { return dir }
        }
        fatalError("srfuzz: no writable folder for the inputs")
    }()

    /// The CLI's own caps: an input of at most 256 KB justifies no allocation near
    /// libFuzzer's `-malloc_limit_mb` (Tools/fuzz/run), so a reader that allocates what a
    /// size field claims before checking it against the bytes present is a finding.
    /// Constants built from shapes (ConstantOfShape) are the one allocation no byte of the
    /// input backs: kept under the malloc limit here (the CLI allows 1 GiB in all).
    static let limits = ImportLimits(maxFoldedElements: 1 << 22)

    func run(_ data: Data) {
        let path = Harness.folder + "/input"
        FileManager.default.createFile(atPath: path, contents: data)
        do {
            switch self {
            case .npy: _ = try NPY.read(data, name: "x", limits: Harness.limits)
            case .png: _ = try PNG.decode(data, name: "x")
            case .jpeg: _ = try JPEG.decode(data, name: "x")
            case .onnx: try exercise(ONNXImporter.load(path: path, limits: Harness.limits))
            case .srm: try exercise(SRMFile.load(path: path, limits: Harness.limits))
            case .caffemodel:
                try exercise(CaffeImporter.load(path: path, format: .caffemodel,
                                                options: ModelOptions(inputShape: [1, 3, 32, 32], limits: Harness.limits)).graph)
            case .prototxt:
                try exercise(CaffeImporter.load(path: path, format: .prototxt, options: ModelOptions(
                    limits: Harness.limits, weights: Harness.fixtures + "/caffe/vggface_mini_v2/vggface_mini_v2.caffemodel")).graph)
            case .caffeHDF5:
                try exercise(CaffeImporter.load(path: path, format: .caffeHDF5, options: ModelOptions(
                    limits: Harness.limits, prototxt: Harness.fixtures + "/caffe/resnet_block/deploy.prototxt")).graph)
            case .kerasH5: try exercise(KerasImporter.load(path: path, format: .keras, options: ModelOptions(limits: Harness.limits)))
            case .kerasZip: try exercise(KerasImporter.load(path: path, format: .kerasZip, options: ModelOptions(limits: Harness.limits)))
            }
        } catch is SRError {
        } catch {
            fatalError("a reader threw a non-SRError: \(error)")
        }
    }

    /// Runs a model that loaded on zeros when it is small enough to be quick.
    func exercise(_ graph: Graph) throws {
        guard graph.inputs.count == 1, let n = Shape.elementCount(graph.inputs[0].shape), n <= 1 << 16,
              graph.nodes.count <= 200 else { return }
        let shapes = try graph.inferShapes(batch: 1)
        guard shapes.values.allSatisfy({ (Shape.elementCount($0) ?? .max) <= 1 << 18 }),
              try graph.summaries().reduce(0, { $0 &+ $1.macs }) <= 1 << 24 else { return }
        let executor = try Executor(graph: graph, threads: 1)
        var shape = graph.inputs[0].shape
        shape[0] = 1
        _ = try executor.run([graph.inputs[0].name: Tensor(zeros: shape)])
    }
}
