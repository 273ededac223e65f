import Foundation
import SRTestSupport
import XCTest

/// `--sum-rule norm-plus` end to end, and the warning when input relevance is amplified.
final class SumRuleCLITests: XCTestCase {
    let model = "Fixtures/lrp/opposite_sums/model.onnx", input = "Fixtures/lrp/opposite_sums/input.npy"

    /// The input relevance's positive part, negative part and the score, from `explain --json`.
    func relevance(_ extra: [String]) throws -> (positive: Double, negative: Double, score: Double) {
        let r = try CLI.run(["explain", model, "--input", input, "--json"] + extra)
        XCTAssertEqual(r.code, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let item = try XCTUnwrap((report?["results"] as? [[String: Any]])?.first)
        let map = try XCTUnwrap((item["maps"] as? [[String: Any]])?.first)
        return (try XCTUnwrap(map["positive"] as? Double), try XCTUnwrap(map["negative"] as? Double),
                try XCTUnwrap(item["score"] as? Double))
    }

    /// The fixture's residual additions sum tensors of opposite signs: zennit's norm rule
    /// gives input relevance of both signs several times the score; norm-plus (every share
    /// in [0, 1], every other rule here z⁺, flat or ε, which only absorb) stays within it.
    func testNormPlusKeepsRelevanceWithinTheScore() throws {
        let norm = try relevance([])
        XCTAssertGreaterThan(norm.positive - norm.negative, 3 * norm.score, "the fixture no longer amplifies under norm")
        let plus = try relevance(["--sum-rule", "norm-plus"])
        XCTAssertLessThanOrEqual(plus.positive - plus.negative, plus.score * (1 + 1e-4))
        XCTAssertGreaterThan(plus.positive, 0)
    }

    /// verify names the rule on every addition and still passes (norm-plus conserves).
    func testVerifyAuditsNormPlusOnEveryAddition() throws {
        let r = try CLI.run(["verify", model, "--input", input, "--sum-rule", "norm-plus", "--json"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let layers = try XCTUnwrap(((report?["images"] as? [[String: Any]])?.first)?["layers"] as? [[String: Any]])
        let adds = layers.filter { $0["op"] as? String == "add" }
        XCTAssertEqual(adds.count, 4)
        XCTAssertTrue(adds.allSatisfy { $0["rule"] as? String == "norm-plus" && $0["ok"] as? Bool == true }, "\(adds)")
    }

    /// Amplified input relevance is named once, with the remedy for the network's kind:
    /// a vision transformer under a CNN composite is pointed at attnlrp, and not warned there.
    func testAmplifiedRelevanceIsNamedWithItsRemedy() throws {
        let vit = ["explain", "Fixtures/zoo/vit/model.onnx", "--input", "Fixtures/zoo/vit/input.npy"]
        let plain = try CLI.run(vit)
        XCTAssertEqual(plain.code, 0, plain.stderr)
        let warnings = plain.errorLines.filter { $0.contains("the input relevance reaches") }
        XCTAssertEqual(warnings.count, 1, plain.stderr)
        XCTAssertTrue(warnings.first?.hasSuffix("the model has attention or layer norm: --composite attnlrp has rules for them") ?? false)
        let attn = try CLI.run(vit + ["--composite", "attnlrp"])
        XCTAssertEqual(attn.code, 0, attn.stderr)
        XCTAssertFalse(attn.stderr.contains("the input relevance reaches"), attn.stderr)
        let gradient = try CLI.run(["explain", model, "--input", input, "--method", "gradient", "--sum-rule", "norm-plus"])
        XCTAssertEqual(gradient.errorLines, ["srtool: warning: --sum-rule is ignored by --method gradient"])
    }
}
