import Foundation
import SRCore
import SRExplain
import SRRuntime
import SRTestSupport
import XCTest

/// Each conv/linear rule on one dense layer against its closed form written the slow way
/// (Montavon et al. 2019; zennit's term structure), plus conservation properties.
final class RuleTwinTests: XCTestCase {
    let fin = 7, fout = 5

    struct Rng {
        var s: UInt64
        mutating func next() -> Float {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2000) / 1000 - 1
        }
    }

    func dense(bias: Bool, seed: UInt64 = 3) throws -> (Graph, [Float], [Float], [Float]) {
        var rng = Rng(s: seed)
        let w = (0..<(fout * fin)).map { _ in rng.next() }
        let b = (0..<fout).map { _ in bias ? rng.next() * 0.3 : 0 }
        let x = (0..<fin).map { _ in rng.next() }
        var weights = ["w": try Tensor(shape: [fout, fin], values: w)]
        var params = ["weight": "w"]
        if bias { weights["b"] = try Tensor(shape: [fout], values: b); params["bias"] = "b" }
        let g = Graph(inputs: [GraphInput(name: "x", shape: [1, fin])], outputs: ["y"],
                      nodes: [Node(name: "fc", op: .linear, inputs: ["x"], outputs: ["y"], params: params)],
                      weights: weights, metadata: GraphMetadata(sourceFormat: "test"))
        return (g, w, b, x)
    }

    /// Relevance at the input for start relevance R = y (every output explained at once),
    /// or R = |y| with `positiveStart`.
    func run(_ g: Graph, _ x: [Float], _ rule: Rule, positiveStart: Bool = false) throws -> [Float] {
        let explainer = try Explainer(graph: g, threads: 1)
        let acts = try explainer.executor.run(["x": try Tensor(shape: [1, fin], values: x)])
        let y = try XCTUnwrap(acts["y"])
        let start = positiveStart ? Kernels.map(y) { abs($0) } : y
        let r = try BackwardEngine(graph: explainer.graph).run(activations: acts, start: ["y": start], rules: RuleSet { _ in rule })
        return try XCTUnwrap(r["x"]).values
    }

    func stab(_ z: Float, _ e: Float = 1e-6) -> Float { z + (z >= 0 ? e : -e) }

    /// R_i = Σ_j x'_i·w'_ij / stab(Σ_k x'_k·w'_kj + b'_j) · R_j, summed over terms.
    func slow(_ w: [Float], _ b: [Float], _ x: [Float], terms: [(xm: (Float) -> Float, wm: (Float) -> Float, bm: (Float) -> Float)],
              groups: [(den: [(Int, Float)], contrib: [(Int, Float)], gate: ((Float) -> Bool)?)]) -> [Float] {
        let yPlain = (0..<fout).map { j in (0..<fin).reduce(b[j]) { $0 + x[$1] * w[j * fin + $1] } }
        var r = [Float](repeating: 0, count: fin)
        for j in 0..<fout {
            let z = terms.map { t in (0..<fin).reduce(t.bm(b[j])) { $0 + t.xm(x[$1]) * t.wm(w[j * fin + $1]) } }
            for g in groups {
                if let gate = g.gate, !gate(yPlain[j]) { continue }
                let d = g.den.reduce(Float(0)) { $0 + $1.1 * z[$1.0] }
                for (k, coef) in g.contrib {
                    for i in 0..<fin { r[i] += coef * terms[k].xm(x[i]) * terms[k].wm(w[j * fin + i]) / stab(d) * yPlain[j] }
                }
            }
        }
        return r
    }

    func check(_ got: [Float], _ want: [Float], _ name: String) {
        if let why = closeness(got, want, atol: 1e-5, rtol: 1e-4) { XCTFail("\(name): \(why)") }
    }

    func testRulesMatchTheirClosedForms() throws {
        let (g, w, b, x) = try dense(bias: true)
        let id: (Float) -> Float = { $0 }, pos: (Float) -> Float = { max($0, 0) }, neg: (Float) -> Float = { min($0, 0) }
        let zero: (Float) -> Float = { _ in 0 }, one: (Float) -> Float = { _ in 1 }
        check(try run(g, x, LRP.epsilon(0.01)), slowEpsilon(w, b, x, 0.01), "epsilon")
        check(try run(g, x, LRP.zPlus()), slow(w, b, x, terms: [(pos, pos, pos), (neg, neg, zero)],
                                                 groups: [([(0, 1), (1, 1)], [(0, 1), (1, 1)], nil)]), "zplus")
        check(try run(g, x, try LRP.alphaBeta()), slow(w, b, x, terms: [(pos, pos, pos), (neg, neg, zero), (pos, neg, neg), (neg, pos, zero)],
                                                        groups: [([(0, 1), (1, 1)], [(0, 2), (1, 2)], nil),
                                                                 ([(2, 1), (3, 1)], [(2, -1), (3, -1)], nil)]), "alpha-beta")
        let gp: (Float) -> Float = { $0 + 0.25 * max($0, 0) }, gn: (Float) -> Float = { $0 + 0.25 * min($0, 0) }
        check(try run(g, x, LRP.gamma()), slow(w, b, x, terms: [(pos, gp, gp), (neg, gn, zero), (pos, gn, gn), (neg, gp, zero)],
                                                groups: [([(0, 1), (1, 1)], [(0, 1), (1, 1)], { $0 > 0 }),
                                                         ([(2, 1), (3, 1)], [(2, 1), (3, 1)], { $0 < 0 })]), "gamma")
        let lo: (Float) -> Float = { _ in -1 }, hi: (Float) -> Float = { _ in 1 }
        check(try run(g, x, LRP.zBox(low: [-1], high: [1])),
              slow(w, b, x, terms: [(id, id, id), (lo, pos, pos), (hi, neg, neg)],
                   groups: [([(0, 1), (1, -1), (2, -1)], [(0, 1), (1, -1), (2, -1)], nil)]), "zbox")
        check(try run(g, x, LRP.flat()), slow(w, b, x, terms: [(one, one, zero)], groups: [([(0, 1)], [(0, 1)], nil)]), "flat")
        check(try run(g, x, LRP.wSquare()), slow(w, b, x, terms: [(one, { $0 * $0 }, { $0 * $0 })],
                                                  groups: [([(0, 1)], [(0, 1)], nil)]), "wsquare")
    }

    func slowEpsilon(_ w: [Float], _ b: [Float], _ x: [Float], _ e: Float) -> [Float] {
        var r = [Float](repeating: 0, count: fin)
        for j in 0..<fout {
            let z = (0..<fin).reduce(b[j]) { $0 + x[$1] * w[j * fin + $1] }
            for i in 0..<fin { r[i] += x[i] * w[j * fin + i] / stab(z, e) * z }
        }
        return r
    }

    /// Bias-free LRP-0 conserves exactly; z⁺ on non-negative inputs gives non-negative relevance.
    func testConservationProperties() throws {
        let (g, _, _, x) = try dense(bias: false, seed: 11)
        let r0 = try run(g, x, LRP.epsilon(0))
        let explainer = try Explainer(graph: g, threads: 1)
        let y = try explainer.executor.outputs(try Tensor(shape: [1, fin], values: x))[0].values
        XCTAssertEqual(r0.reduce(0, +), y.reduce(0, +), accuracy: 1e-5)
        let xPositive = x.map { abs($0) }
        let rPlus = try run(g, xPositive, LRP.zPlus(), positiveStart: true)
        XCTAssertTrue(rPlus.allSatisfy { $0 >= 0 }, "\(rPlus)")
    }

    /// What each rule declares about conservation, which `verify` holds layers to: on a
    /// layer with a bias, only rules whose bias terms cancel (flat, z^B) or drop the bias
    /// conserve; on one without, every LRP rule; structure-only gradients always; AttnLRP's
    /// softmax never.
    func testRulesDeclareWhereTheyConserve() throws {
        let (biased, _, _, _) = try dense(bias: true)
        let (plain, _, _, _) = try dense(bias: false)
        let (withBias, without) = (biased.nodes[0], plain.nodes[0])
        for rule in [LRP.flat(), LRP.zBox(low: [-1], high: [1]), LRP.epsilon(zeroBias: true), LRP.zPlus(zeroBias: true)] {
            XCTAssertTrue(rule.conserves(at: withBias, in: biased), rule.name)
        }
        for rule in [LRP.epsilon(), LRP.zPlus(), LRP.gamma(0.25), LRP.wSquare()] as [Rule] {
            XCTAssertFalse(rule.conserves(at: withBias, in: biased), rule.name)
            XCTAssertTrue(rule.conserves(at: without, in: plain), rule.name)
        }
        let reshape = Node(name: "r", op: .reshape(shape: [4]), inputs: ["x"], outputs: ["y"])
        XCTAssertTrue(Gradient().conserves(at: reshape, in: plain))
        XCTAssertFalse(Gradient().conserves(at: withBias, in: biased))
        XCTAssertFalse(SoftmaxRule().conserves(at: Node(name: "s", op: .softmax(axis: 1), inputs: ["x"], outputs: ["y"]), in: plain))
        XCTAssertTrue(MatMulRule(.uniform, stabilizer: 1e-12).conserves(at: reshape, in: plain))
    }

    func testPassIsTheIdentity() throws {
        let g = Graph(inputs: [GraphInput(name: "x", shape: [1, 3, 2, 2])], outputs: ["y"],
                      nodes: [Node(name: "r", op: .relu(slope: 0), inputs: ["x"], outputs: ["y"])],
                      weights: [:], metadata: GraphMetadata(sourceFormat: "test"))
        let x = try Tensor(shape: [1, 3, 2, 2], values: (0..<12).map { Float($0) - 6 })
        let acts = try Executor(graph: g).run(["x": x])
        let seed = try Tensor(shape: [1, 3, 2, 2], values: (0..<12).map { Float($0 * $0) - 20 })
        let r = try BackwardEngine(graph: g).run(activations: acts, start: ["y": seed], rules: RuleSet { _ in Pass() })
        XCTAssertEqual(r["x"]?.values, seed.values)
    }

    /// The product rule's closed forms: a squeeze-and-excitation gate `[1, C, 1, 1]` gets
    /// nothing and the gated signal everything; two full-size factors get half each.
    func testProductRuleGatesAndSharesEvenly() throws {
        let x = try Tensor(shape: [1, 3, 2, 2], values: (0..<12).map { Float($0) / 3 - 2 })
        let gate = try Tensor(shape: [1, 3, 1, 1], values: [0.2, 0.7, 0.9])
        let other = try Tensor(shape: [1, 3, 2, 2], values: (0..<12).map { 1 - Float($0) / 10 })
        let seed = try Tensor(shape: [1, 3, 2, 2], values: (0..<12).map { Float($0 * $0) / 7 - 3 })
        for (b, name) in [(gate, "gate"), (other, "other")] {
            let g = Graph(inputs: [GraphInput(name: "x", shape: [1, 3, 2, 2]), GraphInput(name: "b", shape: b.shape)],
                          outputs: ["y"], nodes: [Node(name: "m", op: .mul, inputs: ["x", "b"], outputs: ["y"])],
                          weights: [:], metadata: GraphMetadata(sourceFormat: "test"))
            let acts = try Executor(graph: g).run(["x": x, "b": b])
            let r = try BackwardEngine(graph: g).run(activations: acts, start: ["y": seed], rules: RuleSet { _ in ProductRule() })
            if name == "gate" {
                XCTAssertEqual(r["x"]?.values, seed.values)
                XCTAssertEqual(r["b"]?.values.reduce(0, +) ?? 0, 0)
            } else {
                check(try XCTUnwrap(r["x"]).values, seed.values.map { $0 / 2 }, "product x")
                check(try XCTUnwrap(r["b"]).values, seed.values.map { $0 / 2 }, "product b")
            }
        }
    }
}
