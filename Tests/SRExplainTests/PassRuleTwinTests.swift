import Foundation
import SRCore
import SRExplain
import SRRuntime
import SRTestSupport
import XCTest

/// The rules for layers without conv or linear weights (`Pass.swift`, `Gradient.swift`)
/// against their equations written out: zennit's `Pass` and `Norm`, the product rule,
/// guided backprop's and deconvnet's ReLU, and the plain gradient.
final class PassRuleTwinTests: XCTestCase {
    let shape = [1, 3, 2, 2]

    func tensor(_ values: [Float], _ shape: [Int]? = nil) throws -> Tensor { try Tensor(shape: shape ?? self.shape, values: values) }

    /// `rule` on one node `op` reading `inputs` (named a, b, …), relevance `start` at its output.
    func run(_ rule: Rule, _ op: Op, _ inputs: [Tensor], start: [Float], params: [String: String] = [:],
             weights: [String: Tensor] = [:]) throws -> [[Float]] {
        let names = inputs.indices.map { String(UnicodeScalar(UInt8(97 + $0))) }
        let graph = RuleHarness.graph([Node(name: "n", op: op, inputs: names, outputs: ["y"], params: params)],
                                      inputs: Dictionary(uniqueKeysWithValues: zip(names, inputs.map(\.shape))), weights: weights)
        let y = try SRRuntime.Executor(graph: graph, threads: 1).run(Dictionary(uniqueKeysWithValues: zip(names, inputs)))
        let out = try XCTUnwrap(y["y"])
        let r = try RuleHarness.backward(graph, inputs: Dictionary(uniqueKeysWithValues: zip(names, inputs)),
                                         start: try Tensor(shape: out.shape, values: start), rules: RuleSet { _ in rule })
        return names.map { r[$0]?.values ?? [] }
    }

    /// Pass: `R_in = R_out`, through an activation and through a flatten.
    func testPassIsTheIdentity() throws {
        let x = try tensor((0..<12).map { Float($0) - 6 })
        let seed = (0..<12).map { Float($0 * $0) - 20 }
        XCTAssertEqual(try run(Pass(), .relu(slope: 0), [x], start: seed)[0], seed)
        XCTAssertEqual(try run(Pass(), .flatten, [x], start: seed)[0], seed)
    }

    /// Norm on a sum: `R_a = a ⊙ R / stab(a + b)`, `R_b = b ⊙ R / stab(a + b)`.
    func testNormSplitsASumInProportion() throws {
        let (a, b) = (RuleHarness.values(12, seed: 41), RuleHarness.values(12, seed: 43))
        let seed = RuleHarness.values(12, seed: 47)
        let r = try run(Norm(), .add, [try tensor(a), try tensor(b)], start: seed)
        for (k, part) in [a, b].enumerated() {
            let want = (0..<12).map { i in Double(part[i]) * Double(seed[i]) / RuleHarness.stab(Double(a[i]) + Double(b[i])) }
            RuleHarness.check(r[k], want, "norm add input \(k)")
        }
    }

    /// Norm on a 2×2 average pool (stride 2) and a global average pool:
    /// `R_i = (x_i / n) · R_j / stab(y_j)` for the n inputs i of window j.
    func testNormSplitsAnAverageInProportion() throws {
        let x = RuleHarness.values(32, seed: 51)
        let seed = RuleHarness.values(8, seed: 53)
        func window(_ i: Int) -> Int {
            let (c, y, xx) = (i / 16, (i % 16) / 4, i % 4)
            return (c * 2 + y / 2) * 2 + xx / 2
        }
        var y = [Double](repeating: 0, count: 8)
        for i in 0..<32 { y[window(i)] += Double(x[i]) / 4 }
        let pool = Pool2DAttributes(kernel: [2, 2], stride: [2, 2])
        let got = try run(Norm(), .avgPool2d(pool), [try tensor(x, [1, 2, 4, 4])], start: seed)[0]
        RuleHarness.check(got, (0..<32).map { i in Double(x[i]) / 4 * Double(seed[window(i)]) / RuleHarness.stab(y[window(i)]) },
                          "norm avgPool2d")
        let global = (0..<2).map { c in (0..<16).reduce(0.0) { $0 + Double(x[c * 16 + $1]) } / 16 }
        let gotGlobal = try run(Norm(), .globalAvgPool, [try tensor(x, [1, 2, 4, 4])], start: [seed[0], seed[1]])[0]
        RuleHarness.check(gotGlobal, (0..<32).map { i in Double(x[i]) / 16 * Double(seed[i / 16]) / RuleHarness.stab(global[i / 16]) },
                          "norm globalAvgPool")
    }

    /// The product rule: a squeeze-and-excitation gate `[1, C, 1, 1]` gets nothing and the
    /// gated signal everything; two full-size factors get half each.
    func testProductRuleGatesAndSharesEvenly() throws {
        let x = try tensor((0..<12).map { Float($0) / 3 - 2 })
        let gate = try tensor([0.2, 0.7, 0.9], [1, 3, 1, 1])
        let other = try tensor((0..<12).map { 1 - Float($0) / 10 })
        let seed = (0..<12).map { Float($0 * $0) / 7 - 3 }
        let gated = try run(ProductRule(), .mul, [x, gate], start: seed)
        XCTAssertEqual(gated[0], seed)
        XCTAssertEqual(gated[1].reduce(0, +), 0)
        let shared = try run(ProductRule(), .mul, [x, other], start: seed)
        RuleHarness.check(shared[0], seed.map { Double($0) / 2 }, "product x")
        RuleHarness.check(shared[1], seed.map { Double($0) / 2 }, "product other")
    }

    /// Guided backprop's ReLU passes the signal where the input and the signal are positive;
    /// deconvnet's where the signal is positive (Springenberg et al. 2015; Zeiler & Fergus 2014).
    func testReLURules() throws {
        let x = RuleHarness.values(12, seed: 61)
        let seed = RuleHarness.values(12, seed: 67)
        let guided = try run(ReLURule(.guided), .relu(slope: 0), [try tensor(x)], start: seed)[0]
        XCTAssertEqual(guided, (0..<12).map { x[$0] > 0 && seed[$0] > 0 ? seed[$0] : 0 })
        let deconvnet = try run(ReLURule(.deconvnet), .relu(slope: 0), [try tensor(x)], start: seed)[0]
        XCTAssertEqual(deconvnet, seed.map { max($0, 0) })
    }

    /// The gradient of a linear layer, `g_i = Σ_j w_ij g_j`, and of a 2×2 max pool, whose
    /// winner takes each window's signal.
    func testGradient() throws {
        let layer = try TinyLayer.linear()
        let x = RuleHarness.values(layer.inputCount, seed: 71).map(Double.init)
        let g = RuleHarness.values(layer.outputCount, seed: 73).map(Double.init)
        var want = [Double](repeating: 0, count: layer.inputCount)
        for (j, o) in layer.outputs.enumerated() { for t in o.taps { want[t.input] += layer.w[t.weight] * g[j] } }
        RuleHarness.check(try layer.run(Gradient(), x: x, relevance: g), want, "gradient linear")

        let pooled = RuleHarness.values(16, seed: 79)
        let seed = RuleHarness.values(4, seed: 83)
        let got = try run(Gradient(), .maxPool2d(Pool2DAttributes(kernel: [2, 2], stride: [2, 2])),
                          [try tensor(pooled, [1, 1, 4, 4])], start: seed)[0]
        var wantPool = [Float](repeating: 0, count: 16)
        for wy in 0..<2 { for wx in 0..<2 {
            let window = [0, 1, 4, 5].map { (wy * 2) * 4 + wx * 2 + $0 }
            let winner = window.max { pooled[$0] < pooled[$1] } ?? window[0]
            wantPool[winner] = seed[wy * 2 + wx]
        } }
        XCTAssertEqual(got, wantPool)
    }
}
