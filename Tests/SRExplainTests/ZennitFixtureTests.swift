import Foundation
import SRCore
import SRExplain
import SRFormats
import SRTestSupport
import XCTest

/// Every composite against zennit (Fixtures/lrp, made by Tools/make_lrp_fixtures.py): the
/// input relevance and the relevance at every layer, `|a − b| ≤ 1e-5·max|R| + 1e-4·|b|`.
final class ZennitFixtureTests: XCTestCase {
    struct Manifest: Decodable {
        struct Composite: Decodable {
            struct Params: Decodable { var low: [Float]?; var high: [Float]? }
            struct Array: Decodable { var file: String; var tensor: String?; var max_abs: Double }
            var params: Params
            var input: Array
            var layers: [Array]
        }
        var composites: [String: Composite]
    }

    func testEveryCompositeMatchesZennit() throws {
        for model in ["vgg_mini", "resnet_mini", "avgpool_concat"] {
            let folder = Fixtures.path("lrp/\(model)")
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))
            let manifest = try JSONDecoder().decode(Manifest.self, from: data)
            let graph = try ONNXImporter.load(path: folder + "/model.onnx")
            let x = try NPY.read(path: folder + "/input.npy")
            let explainer = try Explainer(graph: graph, threads: 2)
            XCTAssertEqual(manifest.composites.count, 8, model)
            for (key, fixture) in manifest.composites.sorted(by: { $0.key < $1.key }) {
                let name = key.replacingOccurrences(of: "_", with: "-")
                let composite = try XCTUnwrap(Composite.named(name), name)
                var options = CompositeOptions()
                if let low = fixture.params.low, let high = fixture.params.high { options.low = low; options.high = high }
                let e = try explainer.explain(x, target: .top, rules: try composite.rules(for: explainer.graph, options: options))
                func compare(_ got: Tensor, _ a: Manifest.Composite.Array, _ what: String) throws {
                    let want = try NPY.read(path: folder + "/" + a.file)
                    if let why = closeness(got, want, atol: Float(a.max_abs) * 1e-5, rtol: 1e-4) {
                        XCTFail("\(model) \(name) \(what): \(why)")
                    }
                }
                try compare(e.input, fixture.input, "input")
                var compared = 0
                for layer in fixture.layers {
                    guard let tensor = layer.tensor, let got = e.layers[tensor] else { continue }
                    try compare(got, layer, tensor)
                    compared += 1
                }
                XCTAssertGreaterThanOrEqual(compared, fixture.layers.count / 2, "\(model) \(name): too few layers compared")
            }
        }
    }
}
