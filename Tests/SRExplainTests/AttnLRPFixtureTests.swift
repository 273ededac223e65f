import Foundation
import SRCore
import SRExplain
import SRFormats
import SRTestSupport
import XCTest

/// The attention composites against LXT 2.1 (Fixtures/attnlrp/vit, made by
/// Tools/make_attnlrp_fixtures.py on the zoo's tiny torchvision ViT, float64): srtool's
/// float32 input relevance for each sample's top class.
final class AttnLRPFixtureTests: XCTestCase {
    func testAttentionCompositesMatchLXT() throws {
        let graph = try ONNXImporter.load(path: Fixtures.path("zoo/vit/model.onnx"))
        let explainer = try Explainer(graph: graph, threads: 2)
        let x = try NPY.read(path: Fixtures.path("zoo/vit/input.npy"))
        func explain(_ name: String) throws -> Explanation {
            let composite = try XCTUnwrap(Composite.named(name), name)
            let e = try explainer.explain(x, target: .top, rules: try composite.rules(for: explainer.graph, options: CompositeOptions()))
            XCTAssertEqual(e.targets, [1, 1], name)
            return e
        }
        for name in ["attnlrp", "cp-lrp", "cp-lrp-gamma"] {
            let want = try NPY.read(path: Fixtures.path("attnlrp/vit/relevance_\(name)_f64.npy"))
            if let why = closeness(try explain(name).input, want, atol: 1e-7, rtol: 1e-4) { XCTFail("\(name) vs LXT: \(why)") }
        }
        // attnlrp-gamma: the fixture keeps only its per-sample sums of input relevance.
        struct Sums: Decodable { var sums_f64: [String: [String: [Double]]] }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("attnlrp/vit/manifest.json")))
        let want = try XCTUnwrap(try JSONDecoder().decode(Sums.self, from: data).sums_f64["attnlrp-gamma"]?["input"])
        let got = try explain("attnlrp-gamma").input
        let per = got.count / 2
        for i in 0..<2 {
            let sum = (0..<per).reduce(0.0) { $0 + Double(got.pointer[i * per + $1]) }
            XCTAssertEqual(sum, want[i], accuracy: 1e-6, "attnlrp-gamma sample \(i)")
        }
    }
}
