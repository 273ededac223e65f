import Foundation
import SRCore
import SRExplain
import SRTestSupport
import XCTest

/// Every LRP rule for conv and linear layers against its equation written out the slow way
/// (Montavon et al. 2019, "Layer-wise relevance propagation: an overview"; zennit 0.5.1's
/// `rules.py`, as zennit's own `tests/test_rules.py` does): plain loops over what each
/// output of a tiny linear layer and a tiny strided, padded conv reads, nothing shared with
/// the rules' term tables. `R_j` is arbitrary relevance at the outputs, `x⁺ = max(x, 0)`,
/// `x⁻ = min(x, 0)`, likewise for weights and biases, `stab(z) = z + ε·sign(z)`.
final class LRPRuleTwinTests: XCTestCase {
    let stab = { (z: Double) in RuleHarness.stab(z) }
    func pos(_ v: Double) -> Double { max(v, 0) }
    func neg(_ v: Double) -> Double { min(v, 0) }

    /// Both layers with a seeded signed input and seeded relevance at the output.
    func cases() throws -> [(layer: TinyLayer, x: [Double], r: [Double])] {
        try [TinyLayer.linear(), TinyLayer.conv()].map { l in
            (l, RuleHarness.values(l.inputCount, seed: 17).map(Double.init), RuleHarness.values(l.outputCount, seed: 29).map(Double.init))
        }
    }

    /// `R_i = Σ_j contribution_ij / stab(b'_j + Σ_i contribution_ij) · R_j` over one layer:
    /// the shape every rule below has, with its own contributions and bias.
    func distribute(_ l: TinyLayer, _ r: [Double], stabilize: (Double) -> Double,
                    bias: (Double) -> Double, contribution: (_ input: Int, _ weight: Int) -> Double) -> [Double] {
        var out = [Double](repeating: 0, count: l.inputCount)
        for (j, o) in l.outputs.enumerated() {
            let z = o.taps.reduce(bias(l.b[o.bias])) { $0 + contribution($1.input, $1.weight) }
            for t in o.taps { out[t.input] += contribution(t.input, t.weight) / stabilize(z) * r[j] }
        }
        return out
    }

    /// ε: `R_i = Σ_j x_i w_ij / (z_j + ε·sign z_j) · R_j`, `z_j = b_j + Σ_i x_i w_ij`; with
    /// `:nobias` the same without b.
    func testEpsilon() throws {
        for (l, x, r) in try cases() {
            for epsilon in [0, 1e-6, 0.1] {
                let want = distribute(l, r, stabilize: { RuleHarness.stab($0, epsilon) }, bias: { $0 }) { i, k in x[i] * l.w[k] }
                RuleHarness.check(try l.run(LRP.epsilon(Float(epsilon)), x: x, relevance: r), want, "\(l.name) ε=\(epsilon)")
            }
            let noBias = distribute(l, r, stabilize: { RuleHarness.stab($0, 0.1) }, bias: { _ in 0 }) { i, k in x[i] * l.w[k] }
            RuleHarness.check(try l.run(LRP.epsilon(0.1, zeroBias: true), x: x, relevance: r), noBias, "\(l.name) ε nobias")
        }
    }

    /// z⁺: `R_i = Σ_j (x⁺_i w⁺_ij + x⁻_i w⁻_ij) / stab(z⁺_j) · R_j`, `z⁺_j = b⁺_j + Σ_i (x⁺w⁺ + x⁻w⁻)`.
    func testZPlus() throws {
        for (l, x, r) in try cases() {
            let want = distribute(l, r, stabilize: stab, bias: pos) { i, k in pos(x[i]) * pos(l.w[k]) + neg(x[i]) * neg(l.w[k]) }
            RuleHarness.check(try l.run(LRP.zPlus(), x: x, relevance: r), want, "\(l.name) z⁺")
        }
    }

    /// z⁺ where an output has no positive contribution (z⁺_j = 0: non-negative inputs, the
    /// output's weights and bias ≤ 0) and relevance arrives: it goes to the negative
    /// contributions in proportion, `(x⁺_i w⁻_ij + x⁻_i w⁺_ij) / stab(z⁻_j) · R_j` with
    /// `z⁻_j = Σ_i (x⁺w⁻ + x⁻w⁺)` (no bias); every other output is zennit's z⁺.
    func testZPlusPassesWhatItCannotDivideToTheNegativeContributions() throws {
        for (base, x, r) in try cases() {
            // The first output (channel) loses every positive weight and its bias.
            let first = Set(base.outputs.filter { $0.bias == 0 }.flatMap { $0.taps.map(\.weight) })
            let l = try base.with(w: base.w.indices.map { first.contains($0) ? -abs(base.w[$0]) : base.w[$0] },
                                  b: base.b.indices.map { $0 == 0 ? -abs(base.b[0]) : base.b[$0] })
            let xPositive = x.map(abs)
            var want = [Double](repeating: 0, count: l.inputCount)
            var fallbacks = 0
            for (j, o) in l.outputs.enumerated() {
                let positive = o.taps.map { pos(xPositive[$0.input]) * pos(l.w[$0.weight]) }
                let zPlus = o.taps.indices.reduce(pos(l.b[o.bias])) { $0 + positive[$1] }
                for (t, p) in zip(o.taps, positive) { want[t.input] += p / stab(zPlus) * r[j] }
                guard zPlus == 0 else { continue }
                fallbacks += 1
                let negative = o.taps.map { pos(xPositive[$0.input]) * neg(l.w[$0.weight]) }
                let zMinus = negative.reduce(0, +)
                for (t, n) in zip(o.taps, negative) { want[t.input] += n / stab(zMinus) * r[j] }
            }
            XCTAssertEqual(fallbacks, l.outputShape.reduce(1, *) / l.outputShape[1], l.name)
            RuleHarness.check(try l.run(LRP.zPlus(), x: xPositive, relevance: r), want, "\(l.name) z⁺ fallback")
        }
    }

    /// αβ: `R_i = Σ_j [α (x⁺w⁺ + x⁻w⁻)_ij / stab(z⁺_j) − β (x⁺w⁻ + x⁻w⁺)_ij / stab(z⁻_j)] R_j`,
    /// `z⁺_j` with `b⁺_j`, `z⁻_j` with `b⁻_j`.
    func testAlphaBeta() throws {
        for (l, x, r) in try cases() {
            for (alpha, beta) in [(2.0, 1.0), (1.0, 0.0)] {
                let positive = distribute(l, r, stabilize: stab, bias: pos) { i, k in pos(x[i]) * pos(l.w[k]) + neg(x[i]) * neg(l.w[k]) }
                let negative = distribute(l, r, stabilize: stab, bias: neg) { i, k in pos(x[i]) * neg(l.w[k]) + neg(x[i]) * pos(l.w[k]) }
                let want = zip(positive, negative).map { alpha * $0 - beta * $1 }
                let rule = try LRP.alphaBeta(alpha: Float(alpha), beta: Float(beta))
                RuleHarness.check(try l.run(rule, x: x, relevance: r), want, "\(l.name) α\(alpha)β\(beta)")
            }
        }
    }

    /// Generalised γ: where the plain output `z_j = b_j + Σ x w` is positive,
    /// `R_i = Σ_j (x⁺_i (w + γw⁺)_ij + x⁻_i (w + γw⁻)_ij) / stab(b_j + γb⁺_j + Σ_i …) · R_j`; where
    /// it is negative, the same with w⁺ and w⁻ (and b⁻) swapped. With `:nobias` the
    /// denominators lose their bias, the sign still comes from the biased output (zennit).
    func testGamma() throws {
        let gamma = 0.25
        for (l, x, r) in try cases() {
            for zeroBias in [false, true] {
                let z = l.forward(x)
                var want = [Double](repeating: 0, count: l.inputCount)
                for (j, o) in l.outputs.enumerated() where z[j] != 0 {
                    let up = z[j] > 0
                    func favoured(_ i: Int, _ k: Int) -> Double {
                        let w = l.w[k]
                        return up ? pos(x[i]) * (w + gamma * pos(w)) + neg(x[i]) * (w + gamma * neg(w))
                                  : pos(x[i]) * (w + gamma * neg(w)) + neg(x[i]) * (w + gamma * pos(w))
                    }
                    let b = l.b[o.bias]
                    let bias = zeroBias ? 0 : b + gamma * (up ? pos(b) : neg(b))
                    let den = o.taps.reduce(bias) { $0 + favoured($1.input, $1.weight) }
                    for t in o.taps { want[t.input] += favoured(t.input, t.weight) / stab(den) * r[j] }
                }
                RuleHarness.check(try l.run(LRP.gamma(Float(gamma), zeroBias: zeroBias), x: x, relevance: r), want,
                                  "\(l.name) γ nobias \(zeroBias)")
            }
        }
    }

    /// z^B with bounds l ≤ x ≤ h: `R_i = Σ_j (x_i w_ij − l_i w⁺_ij − h_i w⁻_ij) / stab(z_j) · R_j`,
    /// `z_j = Σ_i (x w − l w⁺ − h w⁻)` (the biases `b − b⁺ − b⁻` cancel). Bounds per channel on
    /// the conv, one for all on the linear layer.
    func testZBox() throws {
        for (l, x, r) in try cases() {
            let (low, high): ([Float], [Float]) = l.inputShape.count == 4 ? ([-1, -2], [1, 2]) : ([-1.5], [1.5])
            let plane = l.inputCount / (l.inputShape.count == 4 ? low.count : 1)
            func bound(_ v: [Float], _ i: Int) -> Double { Double(v.count == 1 ? v[0] : v[i / plane]) }
            let want = distribute(l, r, stabilize: stab, bias: { $0 - self.pos($0) - self.neg($0) }) { i, k in
                x[i] * l.w[k] - bound(low, i) * pos(l.w[k]) - bound(high, i) * neg(l.w[k])
            }
            RuleHarness.check(try l.run(LRP.zBox(low: low, high: high), x: x, relevance: r), want, "\(l.name) z^B")
        }
    }

    /// Flat: every input an output reads gets an equal share, `R_i = Σ_{j reads i} R_j / stab(n_j)`
    /// with n_j the inputs output j reads (padding is not read).
    func testFlat() throws {
        for (l, x, r) in try cases() {
            let want = distribute(l, r, stabilize: stab, bias: { _ in 0 }) { _, _ in 1 }
            RuleHarness.check(try l.run(LRP.flat(), x: x, relevance: r), want, "\(l.name) flat")
        }
    }

    /// w²: `R_i = Σ_j w_ij² / stab(b_j² + Σ_i w_ij²) · R_j` (the bias squared too, as zennit).
    func testWSquare() throws {
        for (l, x, r) in try cases() {
            let want = distribute(l, r, stabilize: stab, bias: { $0 * $0 }) { _, k in l.w[k] * l.w[k] }
            RuleHarness.check(try l.run(LRP.wSquare(), x: x, relevance: r), want, "\(l.name) w²")
        }
    }

    /// Without a bias LRP-0 passes on exactly what arrives, and z⁺ on non-negative inputs
    /// with non-negative relevance gives non-negative relevance.
    func testConservationProperties() throws {
        for l in [try TinyLayer.linear(seed: 11, bias: false), try TinyLayer.conv(seed: 13, bias: false)] {
            let x = RuleHarness.values(l.inputCount, seed: 19).map(Double.init)
            let r = RuleHarness.values(l.outputCount, seed: 23).map(Double.init)
            XCTAssertEqual(Double(try l.run(LRP.epsilon(0), x: x, relevance: r).reduce(0, +)), r.reduce(0, +), accuracy: 1e-4, l.name)
            let rPlus = try l.run(LRP.zPlus(), x: x.map(abs), relevance: r.map(abs))
            XCTAssertTrue(rPlus.allSatisfy { $0 >= 0 }, "\(l.name): \(rPlus)")
        }
    }
}
