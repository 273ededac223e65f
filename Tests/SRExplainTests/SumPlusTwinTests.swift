import Foundation
import SRCore
import SRExplain
import SRRuntime
import SRTestSupport
import XCTest

/// `SumPlus` (`norm-plus`) against its equation written out: where some summand is positive,
/// `R_i = x_i⁺ · R / (Σ_j x_j⁺ + ε)`; where none is, `R_i = x_i⁻ · R / (Σ_j x_j⁻ − ε)`; with
/// a broadcast summand's share summed over the axes it was broadcast along.
final class SumPlusTwinTests: XCTestCase {
    /// One add node over `a` (shape `sa`) and `b` (shape `sb`), relevance `start` at its output.
    func run(_ a: [Float], _ sa: [Int], _ b: [Float], _ sb: [Int], start: [Float], out: [Int]) throws -> ([Float], [Float]) {
        let graph = RuleHarness.graph([Node(name: "n", op: .add, inputs: ["a", "b"], outputs: ["y"])], inputs: ["a": sa, "b": sb])
        let r = try RuleHarness.backward(graph, inputs: ["a": try Tensor(shape: sa, values: a), "b": try Tensor(shape: sb, values: b)],
                                         start: try Tensor(shape: out, values: start), rules: RuleSet { _ in SumPlus() })
        return (r["a"]?.values ?? [], r["b"]?.values ?? [])
    }

    /// The shares of output i: (a's, b's).
    func shares(_ a: Double, _ b: Double, _ r: Double) -> (Double, Double) {
        let p = max(a, 0) + max(b, 0), n = min(a, 0) + min(b, 0)
        if p > 0 { return (max(a, 0) * r / (p + 1e-6), max(b, 0) * r / (p + 1e-6)) }
        if n < 0 { return (min(a, 0) * r / (n - 1e-6), min(b, 0) * r / (n - 1e-6)) }
        return (0, 0)
    }

    func testOppositeSignsSplitByPositiveParts() throws {
        // Every case: both positive, opposite signs (where Norm's shares leave [0, 1]), both
        // negative (the fallback), and both zero (nothing to split by).
        let a: [Float] = [0.5, 2, -0.75, 0, 1.5, -3, 0.25, -0.5]
        let b: [Float] = [1.5, -1.9, -0.25, 0, -1.4, 3.1, 0.75, 0]
        let seed = RuleHarness.values(8, seed: 53)
        let (ra, rb) = try run(a, [1, 2, 2, 2], b, [1, 2, 2, 2], start: seed, out: [1, 2, 2, 2])
        let want = (0..<8).map { shares(Double(a[$0]), Double(b[$0]), Double(seed[$0])) }
        RuleHarness.check(ra, want.map(\.0), "norm-plus a")
        RuleHarness.check(rb, want.map(\.1), "norm-plus b")
        // Each share lies between 0 and the relevance it splits (up to the stabiliser).
        for i in 0..<8 {
            for r in [ra[i], rb[i]] { XCTAssertLessThanOrEqual(abs(r), abs(seed[i]) * (1 + 1e-5), "share \(i) amplified") }
        }
    }

    func testABroadcastSummandGetsItsSharesSummed() throws {
        // b: one value per channel ([1, 2, 1, 1]) added to a [1, 2, 2, 2] map.
        let a = RuleHarness.values(8, seed: 59), b: [Float] = [0.3, -0.6]
        let seed = RuleHarness.values(8, seed: 61)
        let (ra, rb) = try run(a, [1, 2, 2, 2], b, [1, 2, 1, 1], start: seed, out: [1, 2, 2, 2])
        let want = (0..<8).map { shares(Double(a[$0]), Double(b[$0 / 4]), Double(seed[$0])) }
        RuleHarness.check(ra, want.map(\.0), "norm-plus broadcast a")
        RuleHarness.check(rb, (0..<2).map { c in (0..<4).reduce(0.0) { $0 + want[c * 4 + $1].1 } }, "norm-plus broadcast b")
    }

    func testItAppliesToAdditionsAndConserves() throws {
        XCTAssertTrue(SumPlus().applies(to: .add))
        XCTAssertFalse(SumPlus().applies(to: .mul))
        XCTAssertFalse(SumPlus().applies(to: .globalAvgPool))
        XCTAssertEqual(try RuleParser.parse("norm-plus").name, "norm-plus")
    }
}
