import Foundation
import SRCore
import SRExplain
import SRTestSupport
import XCTest

/// AttnLRP's and CP-LRP's rules (`AttnLRPRules.swift`; Achtibat et al. 2024; LXT 2.1, see
/// docs/attnlrp-reference.md) against their definitions written out: each as relevance
/// `R_in,i = Σ_j x_i · ∂y_j/∂x_i · R_j / y_j` through the map the rule linearises, with the
/// Jacobian spelled out element by element.
final class AttnLRPRuleTwinTests: XCTestCase {
    let (rows, n) = (2, 4)

    func node(_ op: Op, _ inputs: [String], weights: [String: String] = [:]) -> Node {
        Node(name: "n", op: op, inputs: inputs, outputs: ["y"], params: weights)
    }

    /// Softmax by gradient × input: with `s = softmax(x)` and the signal `R/s` (relevance as
    /// LXT carries it), `R_in,i = x_i Σ_k (R_k / s_k) · s_k (δ_ik − s_i)`. Not conservative.
    func testSoftmaxGradientTimesInput() throws {
        let x = RuleHarness.values(rows * n, seed: 91).map { $0 * 3 }
        let r = RuleHarness.values(rows * n, seed: 97)
        let graph = RuleHarness.graph([node(.softmax(axis: 2), ["x"])], inputs: ["x": [1, rows, n]])
        let got = try RuleHarness.backward(graph, inputs: ["x": try Tensor(shape: [1, rows, n], values: x)],
                                           start: try Tensor(shape: [1, rows, n], values: r), rules: RuleSet { _ in SoftmaxRule() })
        var want = [Double](repeating: 0, count: rows * n)
        for row in 0..<rows {
            let e = (0..<n).map { exp(Double(x[row * n + $0])) }
            let s = e.map { $0 / e.reduce(0, +) }
            for i in 0..<n {
                let jacobianTimesSignal = (0..<n).reduce(0.0) { sum, k in
                    sum + Double(r[row * n + k]) / s[k] * s[k] * ((i == k ? 1 : 0) - s[i])
                }
                want[row * n + i] = Double(x[row * n + i]) * jacobianTimesSignal
            }
        }
        RuleHarness.check(try XCTUnwrap(got["x"]).values, want, "softmax g×x")
    }

    /// Layer norm with σ held constant: `y_j = (x_j − x̄)/σ · w_j + b_j`, so
    /// `∂y_j/∂x_i = w_j/σ · (δ_ij − 1/n)` and `R_in,i = Σ_j x_i ∂y_j/∂x_i · R_j / stab(y_j)`.
    func testLayerNormWithConstantStd() throws {
        let (epsilon, stabilizer) = (Float(1e-5), 1e-12)
        let x = RuleHarness.values(rows * n, seed: 101).map { $0 * 2 + 0.5 }
        let r = RuleHarness.values(rows * n, seed: 103)
        let w = RuleHarness.values(n, seed: 107).map { $0 + 1.5 }
        let b = RuleHarness.values(n, seed: 109).map { $0 * 0.2 }
        for withBias in [false, true] {
            var weights = ["w": try Tensor(shape: [n], values: w)]
            var params = ["scale": "w"]
            if withBias { weights["b"] = try Tensor(shape: [n], values: b); params["bias"] = "b" }
            let graph = RuleHarness.graph([node(.layerNorm(axis: 2, epsilon: epsilon), ["x"], weights: params)],
                                          inputs: ["x": [1, rows, n]], weights: weights)
            let got = try RuleHarness.backward(graph, inputs: ["x": try Tensor(shape: [1, rows, n], values: x)],
                                               start: try Tensor(shape: [1, rows, n], values: r),
                                               rules: RuleSet { _ in LayerNormRule(stabilizer: Float(stabilizer)) })
            var want = [Double](repeating: 0, count: rows * n)
            for row in 0..<rows {
                let v = (0..<n).map { Double(x[row * n + $0]) }
                let mean = v.reduce(0, +) / Double(n)
                let sigma = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n) + Double(epsilon)).squareRoot()
                let y = (0..<n).map { j in (v[j] - mean) / sigma * Double(w[j]) + (withBias ? Double(b[j]) : 0) }
                for i in 0..<n {
                    for j in 0..<n {
                        let dy = Double(w[j]) / sigma * ((i == j ? 1 : 0) - 1 / Double(n))
                        want[row * n + i] += v[i] * dy * Double(r[row * n + j]) / RuleHarness.stab(y[j], stabilizer)
                    }
                }
            }
            RuleHarness.check(try XCTUnwrap(got["x"]).values, want, "layer norm, bias \(withBias)")
        }
    }

    /// A product of two activations `C = A·B` (`[M, K]·[K, N]`). Uniform: each product
    /// `A_mk B_kn` splits its share of `R_mn / stab(C_mn)` evenly between its factors,
    /// `R_A,mk = ½ Σ_n A_mk B_kn R_mn / stab(C_mn)`, `R_B,kn = ½ Σ_m …`. Constant attention
    /// (A a softmax's output): B gets the whole share and nothing flows into A.
    func testMatMulRules() throws {
        let (m, k, nn) = (2, 3, 2)
        let scores = RuleHarness.values(m * k, seed: 113)
        let bValues = RuleHarness.values(k * nn, seed: 127)
        let r = RuleHarness.values(m * nn, seed: 131)
        let stabilizer = 1e-12
        for constant in [false, true] {
            // A is the softmax of `scores` over k in both graphs; only CP-LRP treats it as a constant.
            let graph = RuleHarness.graph([Node(name: "softmax", op: .softmax(axis: 2), inputs: ["s"], outputs: ["a"]),
                                           Node(name: "matmul", op: .matmul, inputs: ["a", "b"], outputs: ["y"])],
                                          inputs: ["s": [1, m, k], "b": [1, k, nn]])
            let rule = MatMulRule(constant ? .constantAttention : .uniform, stabilizer: Float(stabilizer))
            let got = try RuleHarness.backward(graph, inputs: ["s": try Tensor(shape: [1, m, k], values: scores),
                                                               "b": try Tensor(shape: [1, k, nn], values: bValues)],
                                               start: try Tensor(shape: [1, m, nn], values: r),
                                               rules: RuleSet { node in node.op == .matmul ? rule as Rule : Gradient() })
            var a = [Double](repeating: 0, count: m * k)
            for row in 0..<m {
                let e = (0..<k).map { exp(Double(scores[row * k + $0])) }
                for col in 0..<k { a[row * k + col] = e[col] / e.reduce(0, +) }
            }
            let b = bValues.map(Double.init)
            var (wantA, wantB) = ([Double](repeating: 0, count: m * k), [Double](repeating: 0, count: k * nn))
            let share = constant ? 1.0 : 0.5
            for i in 0..<m { for j in 0..<nn {
                let c = (0..<k).reduce(0.0) { $0 + a[i * k + $1] * b[$1 * nn + j] }
                for l in 0..<k {
                    let part = a[i * k + l] * b[l * nn + j] * Double(r[i * nn + j]) / RuleHarness.stab(c, stabilizer)
                    wantA[i * k + l] += share * part
                    wantB[l * nn + j] += share * part
                }
            } }
            RuleHarness.check(try XCTUnwrap(got["b"]).values, wantB, "matmul B, constant \(constant)")
            if constant {
                XCTAssertNil(got["a"], "no relevance flows into constant attention")
            } else {
                RuleHarness.check(try XCTUnwrap(got["a"]).values, wantA, "matmul A")
            }
        }
    }
}
