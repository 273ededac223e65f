import Foundation
import SRCore
import SRExplain
import SRRuntime
import SRTestSupport
import XCTest

/// The gradient family's forward pass runs a conv's ReLU or Clip inside the conv (the
/// activation's tensor is the conv's); the gradient through the activation then reads its
/// mask from the clipped values. The same bits as a forward pass that keeps them apart.
final class FusedActivationGradientTests: XCTestCase {
    /// Conv outputs exactly at a Clip's bounds and a ReLU's kink (an identity 1×1 conv over
    /// 0, 6, −1, 7, 3 and 5.9999), and past them, for plain, guided and deconvnet rules.
    func testFusedReLUAndClipGiveTheSeparateGradient() throws {
        let values = RuleHarness.values(3 * 4 * 5, seed: 41)
        var w: [String: Tensor] = [
            "id.w": try Tensor(shape: [3, 3, 1, 1], values: [1, 0, 0, 0, 1, 0, 0, 0, 1]),
            "c.w": try Tensor(shape: [4, 3, 3, 3], values: RuleHarness.values(4 * 3 * 9, seed: 42)),
            "c.b": try Tensor(shape: [4], values: RuleHarness.values(4, seed: 43)),
            "fc.w": try Tensor(shape: [5, 4], values: RuleHarness.values(20, seed: 44)),
        ]
        w["id.b"] = Tensor(zeros: [3])
        let nodes = [
            Node(name: "id", op: .conv2d(Conv2DAttributes(kernel: [1, 1])), inputs: ["x"], outputs: ["id"],
                 params: ["weight": "id.w", "bias": "id.b"]),
            Node(name: "six", op: .clip(min: 0, max: 6), inputs: ["id"], outputs: ["six"]),
            Node(name: "c", op: .conv2d(Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])), inputs: ["six"], outputs: ["c"],
                 params: ["weight": "c.w", "bias": "c.b"]),
            Node(name: "r", op: .relu(slope: 0), inputs: ["c"], outputs: ["r"]),
            Node(name: "pool", op: .globalAvgPool, inputs: ["r"], outputs: ["pool"]),
            Node(name: "flat", op: .flatten, inputs: ["pool"], outputs: ["flat"]),
            Node(name: "y", op: .linear, inputs: ["flat"], outputs: ["y"], params: ["weight": "fc.w"]),
        ]
        let graph = RuleHarness.graph(nodes, inputs: ["x": [1, 3, 4, 5]], weights: w)
        let x = try Tensor(shape: [1, 3, 4, 5], values: values.map { $0 * 9 - 1 })
        for (i, v) in [Float(0), 6, -1, 7, 3, 5.9999].enumerated() { x.pointer[i * 7] = v }
        // The fused pass's conv tensor holds the clipped values: 7 became 6.
        let executor = try Executor(graph: graph, threads: 2, winograd: .f2x2)
        let fusedPass = try executor.run(["x": x], keepAll: true, fuse: true)
        let apartPass = try executor.run(["x": x], keepAll: true, fuse: false)
        XCTAssertEqual(fusedPass["id"]?.values.max(), 6)
        XCTAssertGreaterThanOrEqual(apartPass["id"]?.values.max() ?? 0, 7)
        let explainer = try Explainer(graph: graph, threads: 2)
        for method in ["gradient", "guided", "deconvnet"] {
            let rules: RuleSet = switch method {
            case "guided": RuleSet { node in if case .relu = node.op { return ReLURule(.guided) }; return Gradient() }
            case "deconvnet": RuleSet { node in if case .relu = node.op { return ReLURule(.deconvnet) }; return Gradient() }
            default: RuleSet { _ in Gradient() }
            }
            var nonzero = 0
            for target in 0..<5 {
                let fused = try explainer.gradient(x, target: .index(target), rules: rules).input
                let apart = try explainer.explain(x, target: .index(target), rules: rules, gradientStart: true,
                                                  fuseActivations: false).input
                let differing = zip(fused.values, apart.values).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(method), class \(target)")
                if apart.values.contains(where: { $0 != 0 }) { nonzero += 1 }
            }
            XCTAssertGreaterThanOrEqual(nonzero, 3, "\(method): zero gradients prove nothing")
        }
    }
}
