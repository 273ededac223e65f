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
        for name in ["attnlrp", "cp-lrp"] {
            let composite = try XCTUnwrap(Composite.named(name), name)
            let e = try explainer.explain(x, target: .top, rules: try composite.rules(for: explainer.graph, options: CompositeOptions()))
            let want = try NPY.read(path: Fixtures.path("attnlrp/vit/relevance_\(name)_f64.npy"))
            XCTAssertEqual(e.targets, [1, 1], name)
            if let why = closeness(e.input, want, atol: 1e-7, rtol: 1e-4) { XCTFail("\(name) vs LXT: \(why)") }
        }
    }
}
