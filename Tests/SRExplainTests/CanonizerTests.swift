import Foundation
import SRCore
import SRExplain
import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// The canonizers the explainer applies before any rule: the forward pass must not change
/// (checked against Keras' own output), and the rules must then conserve where they did not.
final class CanonizerTests: XCTestCase {
    /// Keras' `ZeroPadding2D` + `valid` conv becomes one padded conv. With the flat rule on
    /// that conv (ones as input), relevance would otherwise land on the padded border and be
    /// dropped by the pad's gradient: a leak the audit reports.
    func testZeroPaddingFoldsIntoTheConvThatReadsIt() throws {
        let folder = Fixtures.path("keras/functional_branches")
        let graph = try ModelLoader.load(path: folder + "/model.keras").graph
        let pad = try XCTUnwrap(graph.node(named: "zpad"))
        guard case .pad(let pads, _) = pad.op, case .conv2d(let before) = try XCTUnwrap(graph.node(named: "conv_zp")).op else {
            return XCTFail("the fixture's zpad → conv_zp pair changed")
        }
        let folded = Canonizer.foldPadding(graph)
        XCTAssertNil(folded.node(named: "zpad"))
        guard case .conv2d(let after) = try XCTUnwrap(folded.node(named: "conv_zp")).op else { return XCTFail("conv_zp is gone") }
        XCTAssertEqual(after.pads, zip(before.pads, pads).map { $0 + $1 })

        let explainer = try Explainer(graph: graph, threads: 2)
        // The fixture's input is NHWC, as Keras takes it.
        let nhwc = try NPY.read(path: folder + "/input.npy")
        let (n, h, w, c) = (nhwc.shape[0], nhwc.shape[1], nhwc.shape[2], nhwc.shape[3])
        let x = Tensor(zeros: [n, c, h, w])
        for i in 0..<n { for yy in 0..<h { for xx in 0..<w { for ch in 0..<c {
            x.pointer[((i * c + ch) * h + yy) * w + xx] = nhwc.pointer[((i * h + yy) * w + xx) * c + ch]
        } } } }
        let y = try explainer.executor.outputs(x)[0]
        if let why = closeness(y, try NPY.read(path: folder + "/output.npy"), atol: 1e-5, rtol: 1e-4) { XCTFail("forward: \(why)") }

        var options = CompositeOptions()
        options.overrides["conv_zp"] = LRP.flat()
        let rules = try XCTUnwrap(Composite.named("epsilon-plus")).rules(for: explainer.graph, options: options)
        let (_, audits) = try explainer.audit(x, target: .top, rules: rules, tolerance: 1e-3)
        let leaks = audits[0].layers.filter { !$0.ok }.map(\.node)
        XCTAssertEqual(leaks, [])
    }

    /// ConvNeXt's LayerScale (linear on `[N, H, W, C]`, permute, `γ_c·x`) merges into the
    /// linear through the permute, in torchvision's and timm's exports alike; the forward
    /// pass still matches onnxruntime's output from the zoo.
    func testLayerScaleMergesIntoItsLinearThroughThePermute() throws {
        for name in ["convnext", "timm_convnext"] {
            let folder = Fixtures.path("zoo/\(name)")
            let graph = try ONNXImporter.load(path: folder + "/model.onnx")
            let scales = graph.nodes.filter { if case .scale = $0.op { return true } else { return false } }
            XCTAssertFalse(scales.isEmpty, name)
            let folded = try Canonizer.foldAffine(graph)
            XCTAssertEqual(folded.nodes.filter { if case .scale = $0.op { return true } else { return false } }.map(\.name), [], name)
            XCTAssertEqual(folded.nodes.count, graph.nodes.count - scales.count, name)
            let explainer = try Explainer(graph: graph, threads: 2)
            let y = try explainer.executor.outputs(try NPY.read(path: folder + "/input.npy"))[0]
            if let why = closeness(y, try NPY.read(path: folder + "/output.npy"), atol: 1e-4, rtol: 1e-3) { XCTFail("\(name): \(why)") }
        }
    }

    /// A batch norm before the layer that reads it (pre-activation order) folds into that
    /// layer's input side: into an unpadded conv (grouped too) and a linear layer the model's
    /// output is unchanged; a padded conv keeps its norm (the border would differ).
    func testBatchNormFoldsIntoTheLayerAfterIt() throws {
        var rng = Seeded(state: 11)
        func values(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<n).map { _ in Float.random(in: lo...hi, using: &rng) } }
        func bn(_ name: String, _ input: String, _ c: Int, _ w: inout [String: Tensor]) throws -> Node {
            for (role, v) in [("scale", values(c, 0.5, 2)), ("bias", values(c, -1, 1)), ("mean", values(c, -1, 1)), ("variance", values(c, 0.2, 3))] {
                w["\(name).\(role)"] = try Tensor(shape: [c], values: v)
            }
            return Node(name: name, op: .batchNorm(epsilon: 1e-5), inputs: [input], outputs: [name],
                        params: ["scale": "\(name).scale", "bias": "\(name).bias", "mean": "\(name).mean", "variance": "\(name).variance"])
        }
        var w: [String: Tensor] = [:]
        w["c1.w"] = try Tensor(shape: [8, 2, 3, 3], values: values(144, -1, 1))   // 4 groups of 2 channels
        w["c1.b"] = try Tensor(shape: [8], values: values(8, -1, 1))
        w["c2.w"] = try Tensor(shape: [6, 8, 3, 3], values: values(432, -1, 1))  // padded: keeps its norm
        w["fc.w"] = try Tensor(shape: [5, 6], values: values(30, -1, 1))
        var nodes = [try bn("bn1", "x", 8, &w),
                     Node(name: "c1", op: .conv2d(Conv2DAttributes(kernel: [3, 3], group: 4)), inputs: ["bn1"], outputs: ["c1"],
                          params: ["weight": "c1.w", "bias": "c1.b"]),
                     try bn("bn2", "c1", 8, &w)]
        nodes += [Node(name: "c2", op: .conv2d(Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])), inputs: ["bn2"], outputs: ["c2"],
                       params: ["weight": "c2.w"]),
                  Node(name: "pool", op: .globalAvgPool, inputs: ["c2"], outputs: ["pool"]),
                  Node(name: "flat", op: .flatten, inputs: ["pool"], outputs: ["flat"]),
                  try bn("bn3", "flat", 6, &w),
                  Node(name: "fc", op: .linear, inputs: ["bn3"], outputs: ["y"], params: ["weight": "fc.w"])]
        let graph = Graph(inputs: [GraphInput(name: "x", shape: [2, 8, 7, 7])], outputs: ["y"], nodes: nodes, weights: w,
                          metadata: GraphMetadata(sourceFormat: "test"))
        let folded = try Canonizer.foldAffineIntoNext(graph)
        XCTAssertEqual(folded.nodes.map(\.name), ["c1", "bn2", "c2", "pool", "flat", "fc"])
        let x = try Tensor(shape: [2, 8, 7, 7], values: values(784, -2, 2))
        let before = try Executor(graph: graph, threads: 1).outputs(x)[0]
        let after = try Executor(graph: folded, threads: 1).outputs(x)[0]
        if let why = closeness(after, before, atol: 1e-4, rtol: 1e-4) { XCTFail(why) }
    }
}
