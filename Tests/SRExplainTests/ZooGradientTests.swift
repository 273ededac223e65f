import Foundation
import SRCore
import SRExplain
import SRFormats
import SRTestSupport
import XCTest

/// The model-zoo fixtures (Tools/make_zoo_fixtures.py) through the backward engine.
final class ZooGradientTests: XCTestCase {
    /// The input gradient of the target logits (the gradient method's backward pass through
    /// every new op) against torch's float64 autograd, where the fixture has room for it.
    func testInputGradientMatchesTorchFloat64() throws {
        struct Gradients: Decodable { var targets: [Int]; var input_gradient_f64: String? }
        var compared = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("zoo")).sorted() {
            let folder = Fixtures.path("zoo/\(name)")
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))
            let m = try JSONDecoder().decode(Gradients.self, from: data)
            guard let file = m.input_gradient_f64 else { continue }  // no room for the file in 200 KB
            let explainer = try Explainer(graph: try ONNXImporter.load(path: folder + "/model.onnx"), threads: 2)
            let x = try NPY.read(path: folder + "/input.npy")
            let r = try XCTUnwrap(Method.named("gradient")).run(explainer, x, target: .top, options: MethodOptions())
            XCTAssertEqual(r.classified.targets, m.targets, name)
            if let why = closeness(r.maps[0].raw, try NPY.read(path: folder + "/" + file), atol: 1e-5, rtol: 1e-4) {
                XCTFail("\(name) input gradient vs torch float64: \(why)")
            }
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 16)
    }


    /// Every explanation method runs on every family srtool reads and gives finite maps
    /// (CAM only where the network ends in global average pooling and one linear layer).
    func testEveryMethodRunsOnEveryFamily() throws {
        var ran = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("zoo")).sorted() {
            let folder = Fixtures.path("zoo/\(name)")
            let explainer = try Explainer(graph: try ONNXImporter.load(path: folder + "/model.onnx"), threads: 2)
            let x = try NPY.read(path: folder + "/input.npy").sample(0)
            var options = MethodOptions()
            options.samples = 4; options.steps = 8; options.window = 8; options.stride = 8
            options.workingSize = 48  // SR's saliency step: its eight-lane loops are slow unoptimised
            let lrp = try XCTUnwrap(Composite.named("epsilon-plus-flat")).rules(for: explainer.graph, options: CompositeOptions())
            for method in Method.all {
                do {
                    var o = options
                    if method.name == "lrp" { o.rules = lrp }
                    let r = try method.run(explainer, x, target: .top, options: o)
                    XCTAssertTrue(r.maps[0].raw.values.allSatisfy(\.isFinite), "\(name) \(method.name): not finite")
                    ran += 1
                } catch SRError.unsupported(let why) where method.name == "cam" {
                    XCTAssertTrue(why.hasPrefix("CAM needs"), "\(name): \(why)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(ran, 20 * (Method.all.count - 1))
    }
}
