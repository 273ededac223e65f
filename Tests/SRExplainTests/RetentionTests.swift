import Foundation
import SRCore
import SRExplain
import SRFormats
import SRTestSupport
import XCTest

/// A backward pass that keeps only some tensors frees each other signal and activation once
/// the walk is past its producer: the result must be the one a pass keeping everything gives,
/// including where a tensor's signal is summed from several readers (residual additions,
/// attention's q/k/v) — freeing it before its last reader had added its part would change it.
final class RetentionTests: XCTestCase {
    private func check(model: String, input: String, composite: String) throws {
        let graph = try ONNXImporter.load(path: Fixtures.path(model))
        let explainer = try Explainer(graph: graph, threads: 2)
        let x = try NPY.read(path: Fixtures.path(input))
        let rules = try XCTUnwrap(Composite.named(composite)).rules(for: explainer.graph, options: CompositeOptions())
        let all = try explainer.explain(x, target: .top, rules: rules)
        let lean = try explainer.explain(x, target: .top, rules: rules, retention: .tensors([]))
        XCTAssertEqual(lean.input.values, all.input.values, model)
        XCTAssertEqual(lean.targets, all.targets, model)
        let inputName = try XCTUnwrap(graph.inputs.first?.name)
        XCTAssertEqual(Set(lean.layers.keys), [inputName, lean.startTensor], model)
        XCTAssertEqual(Set(lean.activations.tensors.keys), [inputName, lean.startTensor], model)
        XCTAssertGreaterThan(all.layers.count, 10, model)

        // A kept tensor keeps its signal and its activation, equal to the full pass's.
        let middle = try XCTUnwrap(explainer.graph.nodes.dropLast(3).last?.output)
        let some = try explainer.explain(x, target: .top, rules: rules, retention: .tensors([middle]))
        XCTAssertEqual(some.layers[middle]?.values, all.layers[middle]?.values, model)
        XCTAssertEqual(some.activations[middle]?.values, all.activations[middle]?.values, model)
    }

    func testAResidualNetworkExplainsTheSameKeepingOnlyTheInput() throws {
        try check(model: "lrp/resnet_mini/model.onnx", input: "lrp/resnet_mini/input.npy", composite: "epsilon-plus-flat")
    }

    func testAVisionTransformerExplainsTheSameKeepingOnlyTheInput() throws {
        try check(model: "zoo/vit/model.onnx", input: "zoo/vit/input.npy", composite: "attnlrp")
    }

    /// Grad-CAM keeps its layer's activation and gradient, and nothing else of the pass.
    func testGradCAMKeepsItsLayer() throws {
        let graph = try ONNXImporter.load(path: Fixtures.path("lrp/resnet_mini/model.onnx"))
        let explainer = try Explainer(graph: graph, threads: 2)
        let x = try NPY.read(path: Fixtures.path("lrp/resnet_mini/input.npy"))
        let layer = try XCTUnwrap(explainer.lastConvolution)
        let (_, e) = try explainer.gradCAM(x, target: .top, layer: layer)
        XCTAssertNotNil(e.layers[layer])
        XCTAssertNotNil(e.activations[layer])
        XCTAssertLessThanOrEqual(e.activations.tensors.count, 3)
    }
}
