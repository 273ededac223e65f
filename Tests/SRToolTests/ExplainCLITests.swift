import Foundation
import SRCore
import SRFormats
import SRImage
import SRTestSupport
import XCTest

/// `explain` and `verify` end to end.
final class ExplainCLITests: XCTestCase {
    let dir = NSTemporaryDirectory() + "srtool-explain-\(getpid())"

    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// The saved relevance equals zennit's (Fixtures/lrp) through the CLI too.
    func testExplainSavesZennitRelevanceAndAHeatmap() throws {
        let r = try CLI.run(["explain", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                             "--method", "lrp", "--composite", "epsilon-plus", "--save", dir + "/r.npy", "-o", dir + "/h.png",
                             "--save-layers", dir + "/layers"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let got = try NPY.read(path: dir + "/r.npy")
        let want = try NPY.read(path: Fixtures.path("lrp/vgg_mini/epsilon_plus/input.npy"))
        let peak = want.buffer.map { abs($0) }.max() ?? 0
        if let why = closeness(got, want, atol: peak * 1e-5, rtol: 1e-4) { XCTFail(why) }
        let png = try RGBImage.read(path: dir + "/h.png")
        XCTAssertEqual([png.width, png.height], [16, 16])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/layers/features.0.npy"))
        XCTAssertTrue(r.stdout.contains("target 3"), r.stdout)
    }

    func testExplainBundledImageWithOverlay() throws {
        let r = try CLI.run(["explain", "Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/circle_0.png",
                             "--preprocess", "imagenet-full", "--composite", "epsilon-gamma-box", "--overlay", "-o", dir + "/o.png"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let png = try RGBImage.read(path: dir + "/o.png")
        XCTAssertEqual([png.width, png.height], [64, 64])
    }

    func testVerifyPassesAndFailsWithTheDocumentedCodes() throws {
        let ok = try CLI.run(["verify", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                              "--composite", "epsilon-plus", "--json"])
        XCTAssertEqual(ok.code, 0, ok.stderr)
        if let why = assertSnapshot(roundedJSON(ok.stdout), named: "verify-vgg_mini.json") { XCTFail(why) }
        // A bias-free ε-rule should conserve; ε = 100 makes it leak.
        let leak = try CLI.run(["verify", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                                "--composite", "epsilon-plus", "--rule", "classifier.3=epsilon:100:nobias"])
        XCTAssertEqual(leak.code, 1, leak.stderr)
        XCTAssertEqual(leak.errorLines.last, "srtool: error: relevance is not conserved at classifier.3")
        XCTAssertTrue(leak.stdout.contains("LEAK"))
        let badRule = try CLI.run(["verify", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                                   "--rule", "nope=epsilon"])
        XCTAssertEqual(badRule.code, 64, badRule.stderr)
    }

    /// `inspect --layer --input` adds the layer's relevance; Σ equals zennit's (Fixtures/lrp manifest).
    func testInspectLayerRelevance() throws {
        struct Manifest: Decodable {
            struct Composite: Decodable { struct Layer: Decodable { var tensor: String; var sum: Double }; var layers: [Layer] }
            var composites: [String: Composite]
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lrp/resnet_mini/manifest.json")))
        let want = try XCTUnwrap(try JSONDecoder().decode(Manifest.self, from: data).composites["epsilon_plus"]?
            .layers.first { $0.tensor == "bn1" }?.sum)
        let r = try CLI.run(["inspect", "Fixtures/lrp/resnet_mini/model.onnx", "--layer", "bn1", "--input",
                             "Fixtures/lrp/resnet_mini/input.npy", "--composite", "epsilon-plus", "--json"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let relevance = try XCTUnwrap(json["relevance"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(relevance["sum"] as? Double), want, accuracy: 1e-4 * abs(want))
        XCTAssertEqual((relevance["top_channels"] as? [Any])?.count, 5)
    }

    func testGradCAMEveryLayerWritesOneMapPerConvolution() throws {
        let r = try CLI.run(["explain", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                             "--method", "gradcam", "--layer", "all", "-o", dir + "/cam.png", "--save", dir + "/cam.npy"])
        XCTAssertEqual(r.code, 0, r.stderr)
        for layer in ["features.0", "features.2", "features.5"] {
            XCTAssertEqual(try RGBImage.read(path: dir + "/cam_\(layer).png").width, 16)
            let saved = try NPY.read(path: dir + "/cam_\(layer).npy")
            XCTAssertEqual(saved.shape.count, 4)
            XCTAssertTrue(saved.values.allSatisfy { $0 >= 0 }, "the saved Grad-CAM map is ReLU'd")
            XCTAssertTrue(saved.values.contains { $0 > 0 }, layer)
        }
        let cam = try CLI.run(["explain", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                               "--method", "cam"])
        XCTAssertEqual(cam.code, 69, cam.stderr)
        XCTAssertEqual(cam.errorLines.count, 1)
    }

    /// Guided backprop and deconvnet on a GELU network say once that they are defined for
    /// ReLU networks; on a ReLU network they say nothing.
    func testGuidedBackpropSaysItIsForReLUNetworks() throws {
        for method in ["guided", "deconvnet"] {
            let r = try CLI.run(["explain", "Fixtures/zoo/convnext/model.onnx", "--input", "Fixtures/zoo/convnext/input.npy",
                                 "--method", method, "--save", dir + "/g.npy"])
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertEqual(r.stderr.components(separatedBy: "\n").filter { $0.contains("is defined for ReLU networks") }.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("gelu"), r.stderr)
        }
        let relu = try CLI.run(["explain", "Fixtures/lrp/vgg_mini/model.onnx", "--input", "Fixtures/lrp/vgg_mini/input.npy",
                                "--method", "guided", "--save", dir + "/g.npy"])
        XCTAssertEqual(relu.code, 0, relu.stderr)
        XCTAssertFalse(relu.stderr.contains("ReLU networks"), relu.stderr)
    }

    /// `saliency` on a synthetic scene reproduces the reference map; `explain --method sr` writes an SR map.
    func testSaliencyAndSalientRelevance() throws {
        let r = try CLI.run(["saliency", "Fixtures/ca_saliency/scene_disk.png", "--working-size", "120",
                             "-o", dir + "/s.png", "--save", dir + "/s.npy"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let got = try NPY.read(path: dir + "/s.npy")
        let want = try NPY.read(path: Fixtures.path("ca_saliency/scene_disk_saliency_input.npy"))
        if let why = closeness(got, want, atol: 1e-5, rtol: 0) { XCTFail(why) }
        XCTAssertEqual(try RGBImage.read(path: dir + "/s.png").width, 120)
        let sr = try CLI.run(["explain", "Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/square_0.png",
                              "--method", "sr", "--working-size", "64", "-o", dir + "/sr.png", "--save", dir + "/sr.npy",
                              "--overlay"])
        XCTAssertEqual(sr.code, 0, sr.stderr)
        let map = try NPY.read(path: dir + "/sr.npy")
        XCTAssertEqual(map.shape, [1, 1, 64, 64])
        XCTAssertEqual(map.buffer.max() ?? 0, 1, accuracy: 1e-6)
    }

    /// `render` writes the heatmap (the same pixels as `explain -o`), one tile per layer, the
    /// contact sheet and a self-contained report.
    func testRenderWritesTilesSheetAndReport() throws {
        let r = try CLI.run(["render", "Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/cross_0.png",
                             "--out", dir + "/render"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let e = try CLI.run(["explain", "Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/cross_0.png",
                             "-o", dir + "/h.png"])
        XCTAssertEqual(e.code, 0, e.stderr)
        let a = try RGBImage.read(path: dir + "/render/heatmap.png"), b = try RGBImage.read(path: dir + "/h.png")
        if let why = closeness(a.pixels.map(Float.init), b.pixels.map(Float.init), atol: 1, rtol: 0) { XCTFail(why) }
        let tiles = try FileManager.default.contentsOfDirectory(atPath: dir + "/render/layers")
        XCTAssertEqual(tiles.count, 11, "\(tiles)")
        XCTAssertGreaterThan(try RGBImage.read(path: dir + "/render/contact-sheet.png").width, 300)
        let html = try String(contentsOfFile: dir + "/render/index.html", encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 13)
        XCTAssertTrue(html.contains("<polyline"))
        XCTAssertFalse(html.contains("src=\"http"), "the report must open offline")
        let colormaps = try CLI.run(["colormaps"])
        XCTAssertTrue(colormaps.stdout.contains("coldnhot"))
    }

    func testMethodRegistryMatchesHelpAndReadme() throws {
        let help = try CLI.run(["explain", "--help"]).stdout
        let readme = try String(contentsOfFile: Fixtures.root.deletingLastPathComponent().appendingPathComponent("README.md").path,
                                encoding: .utf8)
        for name in ["lrp", "gradient", "gradxinput", "deconvnet", "guided", "smoothgrad", "ig", "occlusion", "cam", "gradcam",
                     "guided-gradcam", "sr"] {
            XCTAssertTrue(help.contains(name), "explain --help lacks \(name)")
            XCTAssertTrue(readme.contains("| `\(name)` |"), "README's method table lacks \(name)")
        }
    }

    func testCompositeRegistryMatchesHelpAndReadme() throws {
        let help = try CLI.run(["explain", "--help"]).stdout
        let readme = try String(contentsOfFile: Fixtures.root.deletingLastPathComponent().appendingPathComponent("README.md").path,
                                encoding: .utf8)
        for name in ["epsilon-plus", "epsilon-plus-flat", "epsilon-gamma-box", "epsilon-alpha2-beta1",
                     "epsilon-alpha2-beta1-flat", "excitation-backprop", "sr-paper", "guided-backprop", "deconvnet", "gradient"] {
            XCTAssertTrue(help.contains(name), "explain --help lacks \(name)")
            XCTAssertTrue(readme.contains("`\(name)`"), "README lacks \(name)")
        }
    }
}
