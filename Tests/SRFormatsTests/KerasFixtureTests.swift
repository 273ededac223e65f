import Foundation
import SRCore
@testable import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// Every model under Fixtures/keras (made by Tools/make_keras_fixtures.py with Keras 3):
/// read from the legacy .h5, the .keras zip and the weights-only files, each layer's output
/// (NHWC in the fixture, NCHW in srtool) must match Keras'.
final class KerasFixtureTests: XCTestCase {
    struct Manifest: Decodable {
        struct Layer: Decodable {
            var name: String
            var class_name: String
            var node_index: Int?
            var file: String?
        }
        var atol: Float
        var rtol: Float
        var layers: [Layer]
        var files: [String]
    }

    static let cases = ["sequential_cnn", "functional_branches", "padding_edges", "keras2_layout", "avgpool_same_asym", "modern_activations", "modern_layers", "modern_merge_reshape", "modern_ops", "nested_sequential", "upsampling", "conv_transpose", "prelu_positions", "keras2_ops"]

    func manifest(_ folder: String) throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
    }

    /// NHWC → NCHW for 4-D tensors.
    func nchw(_ t: Tensor) throws -> Tensor {
        guard t.rank == 4 else { return t }
        let (n, h, w, c) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor(uninitialized: [n, c, h, w])
        for i in 0..<n { for y in 0..<h { for x in 0..<w { for k in 0..<c {
            out.pointer[((i * c + k) * h + y) * w + x] = t.pointer[((i * h + y) * w + x) * c + k]
        } } } }
        return out
    }

    func compare(_ graph: Graph, folder: String, label: String) throws {
        let m = try manifest(folder)
        let x = try nchw(try NPY.read(path: folder + "/input.npy"))
        let acts = try Executor(graph: graph, threads: 2).run([graph.inputs[0].name: x], keepAll: true)
        var compared = 0
        for layer in m.layers where layer.class_name != "InputLayer" {
            guard let file = layer.file else { continue }
            let tensor = (layer.node_index ?? 0) == 0 ? layer.name : "\(layer.name)__node\(layer.node_index!)"
            let got = try XCTUnwrap(acts[tensor], "\(label): no tensor '\(tensor)'")
            let want = try nchw(try NPY.read(path: folder + "/" + file))
            XCTAssertEqual(got.shape, want.shape, "\(label) \(tensor)")
            guard got.shape == want.shape else { continue }
            // A channels-last Flatten (and what passes it on unchanged) orders its values
            // H, W, C; srtool's NCHW graph C, H, W: compare those as multisets.
            var (g, w) = (got.values, want.values)
            if closeness(g, w, atol: m.atol, rtol: m.rtol) != nil && got.rank == 2 && ["Flatten", "Dropout", "Reshape", "Activation"].contains(layer.class_name) {
                let n = got.shape[0], d = got.shape[1]
                g = (0..<n).flatMap { Array(g[($0 * d)..<(($0 + 1) * d)]).sorted() }
                w = (0..<n).flatMap { Array(w[($0 * d)..<(($0 + 1) * d)]).sorted() }
            }
            if let why = closeness(g, w, atol: m.atol, rtol: m.rtol) { XCTFail("\(label) layer \(tensor): \(why)") }
            compared += 1
        }
        let want = try nchw(try NPY.read(path: folder + "/output.npy"))
        if let why = closeness(try XCTUnwrap(acts[graph.outputs[0]]), want, atol: m.atol, rtol: m.rtol) { XCTFail("\(label) output: \(why)") }
        XCTAssertGreaterThan(compared, 1, label)
    }

    func testLegacyH5MatchesKeras() throws {
        for name in Self.cases {
            let folder = Fixtures.path("keras/\(name)")
            let graph = try ModelLoader.load(path: folder + "/model.h5").graph
            XCTAssertEqual(graph.metadata.sourceFormat, "keras")
            try compare(graph, folder: folder, label: "\(name) .h5")
        }
    }

    func testKerasZipMatchesKeras() throws {
        for name in Self.cases where FileManager.default.fileExists(atPath: Fixtures.path("keras/\(name)/model.keras")) {
            let folder = Fixtures.path("keras/\(name)")
            try compare(try ModelLoader.load(path: folder + "/model.keras").graph, folder: folder, label: "\(name) .keras")
        }
    }

    /// conv_transpose and prelu_positions as Keras 2 (tf_keras) saved them: its config
    /// form and `kernel:0` weight names.
    func testKeras2TwinsMatchKeras() throws {
        var checked = 0
        for name in Self.cases where FileManager.default.fileExists(atPath: Fixtures.path("keras/\(name)/keras2.h5")) {
            let folder = Fixtures.path("keras/\(name)")
            try compare(try ModelLoader.load(path: folder + "/keras2.h5").graph, folder: folder, label: "\(name) keras2.h5")
            checked += 1
        }
        XCTAssertEqual(checked, 2)
    }

    /// Weights-only files (Keras 3's .weights.h5 and the legacy layout) with --config.
    func testWeightsOnlyWithConfig() throws {
        let folder = Fixtures.path("keras/sequential_cnn")
        for weights in ["model.weights.h5", "legacy.weights.h5"] {
            let graph = try ModelLoader.load(path: folder + "/" + weights, options: ModelOptions(config: folder + "/model.json")).graph
            XCTAssertEqual(graph.metadata.sourceFiles, [weights, "model.json"])
            try compare(graph, folder: folder, label: weights)
            XCTAssertThrowsError(try ModelLoader.load(path: folder + "/" + weights)) { e in
                guard case .usage? = e as? SRError else { return XCTFail("\(e)") }
            }
        }
    }

    func testSnakeCaseMatchesKeras() {
        for (cls, name) in [("Conv2D", "conv2d"), ("BatchNormalization", "batch_normalization"), ("ReLU", "re_lu"),
                            ("PReLU", "p_re_lu"), ("LeakyReLU", "leaky_re_lu"), ("GlobalAveragePooling2D", "global_average_pooling2d"),
                            ("DepthwiseConv2D", "depthwise_conv2d"), ("InputLayer", "input_layer"), ("Dense", "dense")] {
            XCTAssertEqual(KerasWeights.snakeCase(cls), name)
        }
    }
}
