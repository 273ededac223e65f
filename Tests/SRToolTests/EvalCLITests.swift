import Foundation
import SRTestSupport
import XCTest

/// `eval` end to end: Quantus' numbers through the CLI (Fixtures/eval/shapes, made by
/// Tools/make_eval_fixtures.py), the HDF5 attribution file, and the bad-input lines.
final class EvalCLITests: XCTestCase {
    let model = "Fixtures/bundled/shapes.onnx"
    let fixture = Fixtures.path("eval/shapes")

    struct Reference: Decodable {
        struct Case: Decodable { var curves: [[Double]]?; var auc: [Double]?; var scores: [Double]? }
        var samples: [String]
        var masks: [String]
        var cases: [String: Case]
    }
    struct Report: Decodable {
        struct Item: Decodable { var input: String; var metric: String; var score: Double; var curve: [Double]?; var auc: Double? }
        struct Summary: Decodable { var method: String; var metric: String; var mean: Double; var count: Int }
        var results: [Item]
        var summary: [Summary]?
    }

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: fixture + "/reference.json")))
    }

    func check(_ got: [Double], _ want: [Double], _ what: String) throws {
        let m = try FixtureManifest.load(fixture)
        if let why = closeness(got.map(Float.init), want.map(Float.init), atol: m.atol ?? 2e-6, rtol: m.rtol ?? 1e-4) {
            XCTFail("\(what): \(why)")
        }
    }

    /// Quantus' pixel-flipping curves, sparseness and relevance rank for the fixture's
    /// attribution, from `--attribution` and from the ViRelAy HDF5 file alike.
    func testEvalMatchesQuantusFromNpyAndHDF5() throws {
        let ref = try reference()
        let common = ["eval", model] + ref.samples.flatMap { ["--image", $0] } + ref.masks.flatMap { ["--mask", $0] }
            + ["--metric", "pixel-flipping,sparseness,relevance-rank", "--features-per-step", "64", "--json"]
        for source in [["--attribution", fixture + "/attribution.npy"], ["--attributions", fixture + "/attributions.h5"]] {
            let r = try CLI.run(common + source, timeout: 300)
            XCTAssertEqual(r.code, 0, r.stderr)
            let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
            for (metric, key) in [("pixel-flipping", "pf_black_morf"), ("sparseness", "sparseness"), ("relevance-rank", "relevance-rank")] {
                let items = report.results.filter { $0.metric == metric }
                XCTAssertEqual(items.map(\.input), ref.samples)
                let want = try XCTUnwrap(ref.cases[key])
                if let curves = want.curves {
                    try check(items.flatMap { Array(($0.curve ?? []).dropFirst()) }, curves.flatMap { $0 }, "\(source[0]) \(metric) curves")
                    try check(items.map { $0.auc ?? .nan }, try XCTUnwrap(want.auc), "\(source[0]) \(metric) auc")
                } else {
                    try check(items.map(\.score), try XCTUnwrap(want.scores), "\(source[0]) \(metric)")
                }
            }
            XCTAssertEqual(report.summary?.map(\.count), [8, 8, 8])
        }
    }

    /// A folder of images with its masks and several methods: one row per method.
    func testMethodByMetricTableOverAFolder() throws {
        let r = try CLI.run(["eval", model, "--images", "Fixtures/bundled/samples", "--masks", "Fixtures/bundled/samples",
                             "--method", "lrp,gradcam", "--metric", "pointing-game,complexity"], timeout: 300)
        XCTAssertEqual(r.code, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, r.stdout)
        XCTAssertTrue(lines[0].hasPrefix("method") && lines[0].contains("pointing-game") && lines[0].contains("complexity"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("lrp ") && lines[2].hasPrefix("gradcam "), r.stdout)
        XCTAssertEqual(lines[3], "mean ± 95 % interval over 8 inputs")
    }

    /// Bad input: one line on stderr, the documented exit code, nothing on stdout.
    func testBadInputIsOneLineAndNothingWritten() throws {
        let image = ["eval", model, "--image", "Fixtures/bundled/samples/circle_0.png"]
        let cases: [([String], Int32, String)] = [
            (image + ["--image", "Fixtures/bundled/samples/cross_0.png", "--attribution", "Fixtures/bundled/samples/circle_0.npy",
                      "--metric", "sparseness"],
             65, "srtool: error: the attribution has shape [1, 3, 64, 64]; the input [2, 3, 64, 64] needs [2, 3 or 1, 64, 64]"),
            (image + ["--mask", "Fixtures/images/landscape.png", "--metric", "pointing-game"],
             65, "srtool: error: mask Fixtures/images/landscape.png is 48×40 pixels; the input is 64×64"),
            (image + ["--target", "7", "--metric", "sparseness"], 64, "srtool: error: target 7 is out of range: the model has 4 classes"),
            (image + ["--patch", "65", "--metric", "region-perturbation"], 64, "srtool: error: --patch 65 is larger than the 64×64 image"),
            (image + ["--features-per-step", "0", "--metric", "pixel-flipping"], 64, "srtool: error: --features-per-step must be at least 1"),
            (image + ["--percentages", "0.5,1", "--metric", "road"], 64,
             "srtool: error: --percentages must be fractions between 0 and 1 (exclusive), e.g. 0.1,0.2"),
            (image + ["--metric", "pixel-flips"], 64, "srtool: error: --metric: unknown value 'pixel-flips'"),
            (image + ["--metric", "relevance-mass"], 64, "srtool: error: the localisation metrics need --mask or --masks"),
        ]
        for (arguments, code, line) in cases {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.code, code, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.errorLines, [line], "\(arguments)")
            XCTAssertEqual(r.stdout, "", "\(arguments)")
        }
    }
}
