import Foundation
import SRCore
import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// Every net under Fixtures/caffe (made by Tools/make_caffe_fixtures.py with a real Caffe):
/// imported from the caffemodel, from Caffe-HDF5 weights and (where there is one) from
/// the V1 prototxt, each layer's output must match Caffe's own.
final class CaffeFixtureTests: XCTestCase {
    struct Manifest: Decodable {
        struct Layer: Decodable {
            var name: String
            var type: String
            var file: String?
        }
        struct Output: Decodable { var name: String; var file: String }
        struct Files: Decodable { var prototxt: String; var caffemodel: String; var h5: String }
        var atol: Float
        var rtol: Float
        var files: Files
        var layers: [Layer]
        var outputs: [Output]?
    }

    static let cases = ["alexnet_mini", "vggface_mini_v1", "vggface_mini_v2", "resnet_block", "pooling_edges", "train_net"]

    func manifest(_ folder: String) throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
    }

    /// Runs `graph` on the fixture input and compares every layer Caffe recorded.
    func compare(_ graph: Graph, folder: String, label: String) throws {
        let m = try manifest(folder)
        let x = try NPY.read(path: folder + "/input.npy")
        let acts = try Executor(graph: graph, threads: 2).run([graph.inputs[0].name: x], keepAll: true)
        var compared = 0
        for layer in m.layers {
            guard let file = layer.file, layer.type != "Input", let node = graph.nodes.first(where: { $0.name == layer.name }) else { continue }
            let got = try XCTUnwrap(acts[node.output], "\(label) \(layer.name)")
            let want = try NPY.read(path: folder + "/" + file)
            XCTAssertEqual(got.count, want.count, "\(label) layer \(layer.name) size")
            if got.count == want.count, let why = closeness(got.values, want.values, atol: m.atol, rtol: m.rtol) {
                XCTFail("\(label) layer \(layer.name): \(why)")
            }
            compared += 1
        }
        let outputs = m.outputs ?? []
        XCTAssertEqual(graph.outputs.count, max(outputs.count, 1), "\(label): outputs \(graph.outputs)")
        XCTAssertGreaterThan(compared, 2, "\(label): too few layers compared")
    }

    /// Each net from its caffemodel (format "caffe") and from its Caffe-HDF5 weights
    /// ("caffe-hdf5"), both with the deploy prototxt.
    func testEveryNetMatchesCaffe() throws {
        for name in Self.cases {
            let folder = Fixtures.path("caffe/\(name)")
            let m = try manifest(folder)
            for (weights, format) in [(m.files.caffemodel, "caffe"), (m.files.h5, "caffe-hdf5")] {
                let graph = try ModelLoader.load(path: folder + "/" + weights,
                                                 options: ModelOptions(prototxt: folder + "/" + m.files.prototxt)).graph
                XCTAssertEqual(graph.metadata.sourceFormat, format)
                try compare(graph, folder: folder, label: "\(name) \(format)")
            }
        }
    }

    /// A prototxt as the model finds its weights beside it; a caffemodel finds its
    /// deploy prototxt.
    func testCompanionFilesAreFound() throws {
        let folder = Fixtures.path("caffe/vggface_mini_v1")
        let m = try manifest(folder)
        let fromText = try ModelLoader.load(path: folder + "/" + m.files.prototxt)
        try compare(fromText.graph, folder: folder, label: "v1 prototxt")
        let fromBinary = try ModelLoader.load(path: folder + "/" + m.files.caffemodel)
        try compare(fromBinary.graph, folder: folder, label: "v1 caffemodel")
        XCTAssertEqual(fromText.notices, ["using weights \(folder)/vggface_mini_v1.caffemodel (found beside deploy_v1.prototxt; --weights overrides)"])
        XCTAssertEqual(fromBinary.notices, ["using deploy prototxt \(folder)/deploy_v1.prototxt (found beside vggface_mini_v1.caffemodel; --prototxt overrides)"])
        XCTAssertEqual(fromBinary.graph.metadata.sourceFiles, ["vggface_mini_v1.caffemodel", "deploy_v1.prototxt"])
    }

    /// The V1 and the V2 caffemodel of the same net (vggface_mini_v1, written with
    /// caffe_pb2's V1 messages; vggface_mini_v2, saved by Caffe) give bit-identical
    /// weights, wherever the blobs' floats fall: the V2 file is also read shifted by 2–5
    /// bytes (an extra NetParameter `name` in front), so each blob is met at every 4-byte
    /// alignment — borrowed from the map when aligned, read into a new tensor when not.
    func testV1AndV2CaffemodelsGiveIdenticalWeights() throws {
        let v1Folder = Fixtures.path("caffe/vggface_mini_v1"), v2Folder = Fixtures.path("caffe/vggface_mini_v2")
        let v1 = try ModelLoader.load(path: v1Folder + "/vggface_mini_v1.caffemodel",
                                      options: ModelOptions(prototxt: v1Folder + "/deploy_v1.prototxt")).graph
        XCTAssertGreaterThan(v1.weights.count, 10)
        let dir = NSTemporaryDirectory() + "/srtool-caffe-v1v2-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v2Bytes = try Data(contentsOf: URL(fileURLWithPath: v2Folder + "/vggface_mini_v2.caffemodel"))
        for extra in 0..<4 {
            // NetParameter field 1 (name), length `extra`; the file's own name comes later and wins.
            let shifted = Data([0x0a, UInt8(extra)] + [UInt8](repeating: 0x78, count: extra)) + v2Bytes
            let path = dir + "/shifted\(extra).caffemodel"
            try shifted.write(to: URL(fileURLWithPath: path))
            let v2 = try ModelLoader.load(path: path, options: ModelOptions(prototxt: v2Folder + "/deploy.prototxt")).graph
            XCTAssertEqual(v2.nodes.map(\.name), v1.nodes.map(\.name))
            let v1Weights = v1.nodes.map { $0.params.sorted(by: { $0.key < $1.key }).map { v1.weights[$0.value] } }
            let v2Weights = v2.nodes.map { $0.params.sorted(by: { $0.key < $1.key }).map { v2.weights[$0.value] } }
            XCTAssertEqual(v1Weights.flatMap { $0 }.count, v2Weights.flatMap { $0 }.count)
            for (node, (a, b)) in zip(v1.nodes, zip(v1Weights, v2Weights)) {
                for (x, y) in zip(a, b) {
                    let x = try XCTUnwrap(x), y = try XCTUnwrap(y)
                    XCTAssertEqual(x.shape, y.shape, "\(node.name), shift \(extra + 2)")
                    XCTAssertTrue(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(node.name), shift \(extra + 2): values differ")
                }
            }
        }
    }

    /// A trained caffemodel alone (no prototxt beside it): its own TRAIN-phase layers,
    /// data and loss layers dropped, the input shape from --input-shape.
    func testCaffemodelAloneUsesItsOwnLayers() throws {
        let folder = Fixtures.path("caffe/train_net")
        let dir = NSTemporaryDirectory() + "/srtool-caffe-alone-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: folder + "/train_net.caffemodel", toPath: dir + "/train_net.caffemodel")
        let x = try NPY.read(path: folder + "/input.npy")
        let loaded = try ModelLoader.load(path: dir + "/train_net.caffemodel", options: ModelOptions(inputShape: x.shape))
        XCTAssertEqual(loaded.notices, ["no deploy prototxt beside train_net.caffemodel; using the caffemodel's own layers"])
        let graph = loaded.graph
        XCTAssertFalse(graph.nodes.contains { $0.name.lowercased().contains("loss") || $0.name.lowercased().contains("accuracy") })
        let m = try manifest(folder)
        // The train net has no softmax "prob"; its output is the last InnerProduct.
        let acts = try Executor(graph: graph).run([graph.inputs[0].name: x], keepAll: true)
        for layer in m.layers where layer.type == "InnerProduct" || layer.type == "Convolution" {
            let node = try XCTUnwrap(graph.nodes.first { $0.name == layer.name }, layer.name)
            let want = try NPY.read(path: folder + "/" + (layer.file ?? ""))
            if let why = closeness(try XCTUnwrap(acts[node.output]), want, atol: m.atol, rtol: m.rtol) { XCTFail("\(layer.name): \(why)") }
        }
    }
}
