import Foundation
import SRCore
import SRExplain
import SRTestSupport
import XCTest

/// What each rule declares — the ops it applies to and where it conserves — and that the
/// engine and the composites hold rules to it.
final class RuleDeclarationTests: XCTestCase {
    let conv = Op.conv2d(Conv2DAttributes(kernel: [3, 3]))
    let pool = Op.maxPool2d(Pool2DAttributes(kernel: [2, 2], stride: [2, 2]))

    func testRulesDeclareTheOpsTheyApplyTo() throws {
        let lrp: [Rule] = [LRP.epsilon(), LRP.zPlus(), try LRP.alphaBeta(), LRP.gamma(), LRP.zBox(low: [0], high: [1]),
                           LRP.flat(), LRP.wSquare()]
        for rule in lrp {
            XCTAssertTrue(rule.applies(to: conv) && rule.applies(to: .linear), rule.name)
            for op in [pool, .relu(slope: 0), .add, .batchNorm(epsilon: 1e-5), .matmul,
                       .convTranspose2d(ConvTranspose2DAttributes(conv: Conv2DAttributes(kernel: [3, 3])))] {
                XCTAssertFalse(rule.applies(to: op), "\(rule.name) on \(op.name)")
            }
        }
        let table: [(Rule, applies: [Op], not: [Op])] = [
            (Pass(), [.relu(slope: 0), .unary(.gelu), .batchNorm(epsilon: 1e-5), .layerNorm(axis: 1, epsilon: 1e-5), .flatten],
             [conv, .linear, pool, .add, .softmax(axis: 1), .transpose(perm: [0, 2, 1])]),
            (Norm(), [.add, .globalAvgPool, .reduce(ReduceAttributes(kind: .mean, axes: [2], keepDims: false))],
             [conv, .relu(slope: 0), .mul, .reduce(ReduceAttributes(kind: .max, axes: [2], keepDims: false))]),
            (ProductRule(), [.mul], [.add, .matmul]),
            (ReLURule(.guided), [.relu(slope: 0)], [.sigmoid, .unary(.gelu)]),
            (SoftmaxRule(), [.softmax(axis: 1)], [.relu(slope: 0)]),
            (LayerNormRule(stabilizer: 1e-12), [.layerNorm(axis: 1, epsilon: 1e-5)], [.batchNorm(epsilon: 1e-5)]),
            (MatMulRule(.uniform, stabilizer: 1e-12), [.matmul], [.mul, .linear]),
            (Gradient(), [conv, .linear, pool, .relu(slope: 0), .add, .matmul, .softmax(axis: 1), .batchConstant], []),
        ]
        for (rule, applies, not) in table {
            for op in applies { XCTAssertTrue(rule.applies(to: op), "\(rule.name) on \(op.name)") }
            for op in not { XCTAssertFalse(rule.applies(to: op), "\(rule.name) on \(op.name)") }
        }
    }

    /// What `verify` holds layers to: on a layer with a bias only rules whose bias terms
    /// cancel (flat, z^B) or drop the bias conserve; on one without, every LRP rule;
    /// gradients through layout ops always; AttnLRP's softmax never; its layer norm only
    /// without a bias.
    func testRulesDeclareWhereTheyConserve() throws {
        let biased = try TinyLayer.linear(bias: true).graph, plain = try TinyLayer.linear(bias: false).graph
        let (withBias, without) = (biased.nodes[0], plain.nodes[0])
        for rule in [LRP.flat(), LRP.zBox(low: [-1], high: [1]), LRP.epsilon(zeroBias: true), LRP.zPlus(zeroBias: true)] {
            XCTAssertTrue(rule.conserves(at: withBias, in: biased), rule.name)
        }
        for rule in [LRP.epsilon(), LRP.zPlus(), LRP.gamma(0.25), LRP.wSquare(), try LRP.alphaBeta()] as [Rule] {
            XCTAssertFalse(rule.conserves(at: withBias, in: biased), rule.name)
            XCTAssertTrue(rule.conserves(at: without, in: plain), rule.name)
        }
        let reshape = Node(name: "r", op: .reshape(shape: [4]), inputs: ["x"], outputs: ["y"])
        XCTAssertTrue(Gradient().conserves(at: reshape, in: plain))
        XCTAssertFalse(Gradient().conserves(at: withBias, in: biased))
        XCTAssertFalse(ReLURule(.guided).conserves(at: Node(name: "r", op: .relu(slope: 0), inputs: ["x"], outputs: ["y"]), in: plain))
        XCTAssertFalse(SoftmaxRule().conserves(at: Node(name: "s", op: .softmax(axis: 1), inputs: ["x"], outputs: ["y"]), in: plain))
        let norm = Node(name: "ln", op: .layerNorm(axis: 1, epsilon: 1e-5), inputs: ["x"], outputs: ["y"], params: ["bias": "b"])
        let normed = RuleHarness.graph([norm], inputs: ["x": [1, 4]], weights: ["b": try Tensor(shape: [4], values: [1, 2, 3, 4])])
        XCTAssertFalse(LayerNormRule(stabilizer: 1e-12).conserves(at: norm, in: normed))
        XCTAssertTrue(LayerNormRule(stabilizer: 1e-12).conserves(at: reshape, in: plain))
        XCTAssertTrue(MatMulRule(.uniform, stabilizer: 1e-12).conserves(at: reshape, in: plain))
        for rule in [Pass(), Norm(), ProductRule()] as [Rule] { XCTAssertTrue(rule.conserves(at: reshape, in: plain), rule.name) }
    }

    /// A rule on a layer it does not apply to is a usage error naming the layer, its op and
    /// the rule: from the engine for any rule set, and from a composite's overrides before
    /// anything runs.
    func testARuleOnALayerItCannotExplainIsRefused() throws {
        let graph = RuleHarness.graph([Node(name: "pool", op: pool, inputs: ["x"], outputs: ["y"])], inputs: ["x": [1, 1, 4, 4]])
        let x = try Tensor(shape: [1, 1, 4, 4], values: RuleHarness.values(16, seed: 7))
        let line = "rule 'epsilon:1e-06' does not apply to layer 'pool' (maxPool2d)"
        XCTAssertThrowsError(try RuleHarness.backward(graph, inputs: ["x": x], start: Tensor(zeros: [1, 1, 2, 2]),
                                                      rules: RuleSet { _ in LRP.epsilon() })) { error in
            XCTAssertEqual(error as? SRError, .usage(line))
        }
        var options = CompositeOptions()
        options.overrides["pool"] = LRP.epsilon()
        XCTAssertThrowsError(try XCTUnwrap(Composite.named("epsilon-plus")).rules(for: graph, options: options)) { error in
            XCTAssertEqual(error as? SRError, .usage(line))
        }
        options.overrides["pool"] = Gradient()
        XCTAssertNoThrow(try XCTUnwrap(Composite.named("epsilon-plus")).rules(for: graph, options: options))
    }
}
