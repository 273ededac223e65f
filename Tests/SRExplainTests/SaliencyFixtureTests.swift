import Foundation
import SRCore
import SRExplain
import SRFormats
import SRTestSupport
import XCTest

/// The saliency family against Captum 0.9 and pytorch-grad-cam (Fixtures/saliency, made by
/// Tools/make_saliency_fixtures.py on the Fixtures/lrp models and inputs).
final class SaliencyFixtureTests: XCTestCase {
    struct Manifest: Decodable {
        struct File: Decodable { var file: String; var atol: Double?; var rtol: Double? }
        struct Layer: Decodable { var onnx_tensor: String }
        var model_file: String
        var input_file: String
        var target: Int
        var gradcam_layer: Layer
        var files: [String: File]
    }

    func check(_ got: Tensor, _ m: Manifest, _ key: String, _ folder: String, _ what: String) throws {
        guard let f = m.files[key] else { return XCTFail("\(what): no fixture \(key)") }
        let want = try NPY.read(path: folder + "/" + f.file)
        XCTAssertEqual(Shape.elementCount(got.shape), Shape.elementCount(want.shape), what)
        if let why = closeness(got.values, want.values, atol: Float(f.atol ?? 1e-5), rtol: Float(f.rtol ?? 1e-4)) {
            XCTFail("\(what): \(why)")
        }
    }

    func testMethodsMatchCaptumAndGradCam() throws {
        for model in ["vgg_mini", "resnet_mini", "avgpool_concat"] {
            let folder = Fixtures.path("saliency/\(model)")
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))
            let m = try JSONDecoder().decode(Manifest.self, from: data)
            let root = Fixtures.root.deletingLastPathComponent().path + "/"
            let explainer = try Explainer(graph: try ONNXImporter.load(path: root + m.model_file), threads: 2)
            let x = try NPY.read(path: root + m.input_file)
            var o = MethodOptions()
            o.window = 4; o.stride = 2; o.steps = 50
            o.layer = explainer.graph.node(named: m.gradcam_layer.onnx_tensor)?.output ?? m.gradcam_layer.onnx_tensor
            func run(_ method: String, _ options: MethodOptions? = nil) throws -> AttributionMap {
                let r = try XCTUnwrap(Method.named(method)).run(explainer, x, target: .top, options: options ?? o)
                XCTAssertEqual(r.classified.targets, [m.target], "\(model) \(method)")
                return r.maps[0]
            }
            try check(try run("gradient").raw, m, "gradient", folder, "\(model) gradient")
            try check(try run("gradxinput").raw, m, "input_x_gradient", folder, "\(model) gradxinput")
            try check(try run("guided").raw, m, "guided_backprop", folder, "\(model) guided")
            try check(try run("deconvnet").raw, m, "deconvnet", folder, "\(model) deconvnet")
            var riemann = o
            riemann.integration = .riemannTrapezoid
            try check(try run("ig", riemann).raw, m, "integrated_gradients_riemann", folder, "\(model) ig riemann")
            try check(try run("ig").raw, m, "integrated_gradients_gl", folder, "\(model) ig gauss-legendre")
            try check(try run("occlusion").raw, m, "occlusion", folder, "\(model) occlusion")
            let gradcam = try run("gradcam")
            try check(gradcam.raw, m, "gradcam_layer_relu", folder, "\(model) gradcam (ReLU'd, as saved)")
            try check(gradcam.display, m, "gradcam_upsampled", folder, "\(model) gradcam upsampled")
            try check(try run("guided-gradcam").raw, m, "guided_gradcam", folder, "\(model) guided-gradcam")
            if m.files["cam"] != nil {
                let cam = try run("cam")
                try check(cam.raw, m, "cam", folder, "\(model) cam")
                try check(cam.display, m, "cam_relu_upsampled", folder, "\(model) cam upsampled")
            } else {
                XCTAssertThrowsError(try run("cam"))
            }
            // SmoothGrad draws its own noise: with as many samples as the reference (10,000,
            // σ = 0.15·(max − min)) the two means differ by N(0, 2·stderr²) per element; allow
            // 6·√2·max(stderr) from the fixture's own standard errors.
            var smooth = o
            smooth.samples = 10_000; smooth.noise = 0.15; smooth.seed = 1; smooth.batch = 500
            let stderr = try NPY.read(path: folder + "/smoothgrad_stderr.npy").buffer.max() ?? 0
            let want = try NPY.read(path: folder + "/" + (m.files["smoothgrad_mean"]?.file ?? "smoothgrad_mean.npy"))
            if let why = closeness(try run("smoothgrad", smooth).raw.values, want.values, atol: 6 * Float(2).squareRoot() * stderr, rtol: 0) {
                XCTFail("\(model) smoothgrad: \(why)")
            }
        }
    }

    /// Grad-CAM at a transformer's token layer (the tiny torchvision ViT's last block's
    /// ln_1): tokens on the 4×4 patch grid, class token dropped, as pytorch-grad-cam's
    /// reshape_transform (Fixtures/saliency/vit_tokens, Tools/make_token_gradcam_fixtures.py).
    func testGradCAMOnTransformerTokens() throws {
        try checkGradCAM(zoo: "vit", fixture: "vit_tokens", grid: [4, 4], atol: 1e-6)
    }

    /// Grad-CAM at a Swin block's norm2, whose output is already a grid `[N, H, W, C]`:
    /// the features taken as channels, as pytorch-grad-cam's Swin reshape_transform
    /// (Fixtures/saliency/swin_tokens, Tools/make_token_gradcam_fixtures.py).
    func testGradCAMOnSwinGrid() throws {
        try checkGradCAM(zoo: "swin", fixture: "swin_tokens", grid: [8, 8], atol: 1e-8)
    }

    /// srtool's Grad-CAM at the fixture's layer of a zoo model against the float64 grid map.
    private func checkGradCAM(zoo: String, fixture: String, grid: [Int], atol: Float) throws {
        struct GridManifest: Decodable { var layer: String; var targets: [Int] }
        let folder = Fixtures.path("saliency/\(fixture)")
        let m = try JSONDecoder().decode(GridManifest.self, from: try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
        let explainer = try Explainer(graph: try ONNXImporter.load(path: Fixtures.path("zoo/\(zoo)/model.onnx")), threads: 2)
        var o = MethodOptions()
        o.layer = m.layer
        let r = try XCTUnwrap(Method.named("gradcam")).run(explainer, try NPY.read(path: Fixtures.path("zoo/\(zoo)/input.npy")),
                                                           target: .top, options: o)
        XCTAssertEqual(r.classified.targets, m.targets)
        XCTAssertEqual(r.maps[0].raw.shape, [2, 1] + grid)
        if let why = closeness(r.maps[0].raw, try NPY.read(path: folder + "/gradcam_grid.npy"), atol: atol, rtol: 1e-4) {
            XCTFail("Grad-CAM (\(zoo)) vs float64 autograd: \(why)")
        }
    }
}
