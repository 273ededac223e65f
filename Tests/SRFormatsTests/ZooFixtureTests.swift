import Foundation
import SRCore
import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// The tiny model-zoo fixtures (Tools/make_zoo_fixtures.py: torchvision and timm families
/// exported to ONNX opset 17, seeded weights and batch-norm statistics): every family must
/// match onnxruntime and the float64 torch model — the transformers exported with a
/// dynamic batch (ViT, Swin, Swin V2, MaxViT) imported at batch 1 and run on a batch of 2.
final class ZooFixtureTests: XCTestCase {
    func cases() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("zoo")).sorted()
    }

    func testEveryFamilyMatchesOnnxruntimeAndFloat64() throws {
        let cases = try cases()
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        for name in cases {
            let folder = Fixtures.path("zoo/\(name)")
            let manifest = try FixtureManifest.load(folder)
            let graph = try ONNXImporter.load(path: folder + "/model.onnx")
            let x = try NPY.read(path: folder + "/input.npy")
            let y = try Executor(graph: graph, threads: 2).outputs(x)[0]
            let atol = manifest.atol ?? 1e-5, rtol = manifest.rtol ?? 1e-4
            if let why = closeness(y, try NPY.read(path: folder + "/output.npy"), atol: atol, rtol: rtol) {
                XCTFail("\(name) vs onnxruntime: \(why)")
            }
            if let why = closeness(y, try NPY.read(path: folder + "/output_f64.npy"), atol: atol, rtol: rtol) {
                XCTFail("\(name) vs float64 torch: \(why)")
            }
        }
    }

    /// Activations the exporter wrote as equations come back as one node each: GELU's
    /// Div·Erf·Add·Mul·Mul (ConvNeXt, DeiT) and SiLU's Sigmoid·Mul (EfficientNet).
    func testExportedActivationsAreFused() throws {
        for (name, function, leftover) in [("convnext", "gelu", "erf"), ("timm_deit", "gelu", "erf"), ("efficientnet", "silu", "sigmoid")] {
            let graph = try ONNXImporter.load(path: Fixtures.path("zoo/\(name)/model.onnx"))
            let ops = graph.nodes.map(\.op.name)
            XCTAssertGreaterThan(ops.filter { $0 == function }.count, 0, name)
            XCTAssertEqual(ops.filter { $0 == leftover }.count, name == "efficientnet" ? 4 : 0, "\(name): \(leftover) left")
        }
    }

    /// ONNX → .srm → load gives the same graph and the same numbers for every family.
    func testSRMRoundTrip() throws {
        for name in try cases() {
            let folder = Fixtures.path("zoo/\(name)")
            let graph = try ONNXImporter.load(path: folder + "/model.onnx")
            let path = NSTemporaryDirectory() + "/srtool-zoo-\(name)-\(getpid()).srm"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try SRMFile.write(graph, to: path)
            let back = try ModelLoader.load(path: path).graph
            XCTAssertEqual(back.nodes, graph.nodes, name)
            let x = try NPY.read(path: folder + "/input.npy")
            XCTAssertEqual(try Executor(graph: graph).outputs(x)[0].values, try Executor(graph: back).outputs(x)[0].values, name)
        }
    }
}
