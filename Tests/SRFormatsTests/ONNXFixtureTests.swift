import Foundation
import SRCore
import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// Every model under Fixtures/onnx (made by Tools/make_onnx_fixtures.py, expected values
/// from onnxruntime): the output and every intermediate tensor srtool keeps must match, and
/// the output of a forward-only run too (activations run inside their convs there, and the
/// linear layers wide enough by the packed product, as `srtool run` runs them).
final class ONNXFixtureTests: XCTestCase {
    func testEveryFixtureMatchesOnnxruntime() throws {
        let root = Fixtures.path("onnx")
        let cases = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        for name in cases {
            let folder = root + "/" + name
            let manifest = try FixtureManifest.load(folder)
            let graph = try ONNXImporter.load(path: folder + "/model.onnx")
            let x = try NPY.read(path: folder + "/input.npy")
            let acts = try Executor(graph: graph, threads: 2).run([graph.inputs[0].name: x])
            let atol = manifest.atol ?? 1e-5, rtol = manifest.rtol ?? 1e-4
            let want = try NPY.read(path: folder + "/output.npy")
            let got = try XCTUnwrap(acts[graph.outputs[0]], name)
            if let why = closeness(got, want, atol: atol, rtol: rtol) { XCTFail("\(name) output: \(why)") }
            // A graph of its own handed over, as `run` hands its own: the executor may repack it.
            let fused = try Executor(graph: ONNXImporter.load(path: folder + "/model.onnx"), threads: 2, packWeights: true)
                .outputs(x)[0]
            if let why = closeness(fused, want, atol: atol, rtol: rtol) { XCTFail("\(name) forward-only output: \(why)") }
            var compared = 0
            for (tensor, file) in manifest.layers ?? [:] {
                guard let mine = acts[tensor] else { continue }
                let ref = try NPY.read(path: folder + "/" + file)
                if let why = closeness(mine, ref, atol: atol, rtol: rtol) { XCTFail("\(name) layer \(tensor): \(why)") }
                compared += 1
            }
            XCTAssertGreaterThan(compared, 0, "\(name): no intermediate layer compared")
        }
    }

    /// ONNX → .srm → load (memory-mapped) gives the same graph and the same numbers.
    func testSRMRoundTrip() throws {
        for name in ["vgg_mini", "resnet_mini", "head", "norm_act", "pool_avg_include_pad", "eltwise"] {
            let folder = Fixtures.path("onnx/\(name)")
            var graph = try ONNXImporter.load(path: folder + "/model.onnx")
            graph.metadata.labels = ["a", "b"]
            graph.metadata.preprocess = "caffe"
            let path = NSTemporaryDirectory() + "/srtool-\(name)-\(getpid()).srm"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try SRMFile.write(graph, to: path)
            let back = try ModelLoader.load(path: path).graph
            XCTAssertEqual(back.nodes, graph.nodes, name)
            XCTAssertEqual(back.metadata, graph.metadata, name)
            XCTAssertEqual(back.inputs, graph.inputs, name)
            let x = try NPY.read(path: folder + "/input.npy")
            let a = try Executor(graph: graph).outputs(x)[0]
            let b = try Executor(graph: back).outputs(x)[0]
            XCTAssertEqual(a.values, b.values, name)
        }
    }

    func testBatchSizeDiffersFromDeclared() throws {
        let folder = Fixtures.path("onnx/vgg_mini")
        let graph = try ONNXImporter.load(path: folder + "/model.onnx")
        let x = try NPY.read(path: folder + "/input.npy")
        let want = try NPY.read(path: folder + "/output.npy")
        let executor = try Executor(graph: graph)
        for n in 0..<x.shape[0] {
            let y = try executor.outputs(x.sample(n))[0]
            if let why = closeness(y, want.sample(n), atol: 1e-5, rtol: 1e-4) { XCTFail("sample \(n): \(why)") }
        }
    }
}
