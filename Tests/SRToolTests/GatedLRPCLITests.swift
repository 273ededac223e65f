import Foundation
import SRCore
import SRFormats
import SRTestSupport
import XCTest

/// `explain --composite epsilon-plus-flat` on gated CNNs against an independent float64
/// reference (Fixtures/lrp/gated_*, made by Tools/make_gated_lrp_fixtures.py: zennit 0.5.1's
/// hooks in PyTorch with srtool's rules for the layers zennit leaves open): tiny torchvision
/// EfficientNet (SiLU, squeeze-and-excitation gates, depthwise convs, residual sums) and
/// ConvNeXt (depthwise 7×7, layer norm, GELU, LayerScale, residual sums). The saved input
/// relevance and the relevance at every residual sum, `|a − b| ≤ rel_atol·max|ref| + rtol·|ref|`
/// with the manifest's tolerance (1e-4, 1e-3): PyTorch's own float32 run of the same rules uses
/// at most 4 % of it, every other rule for these layers lands hundreds of times outside it.
final class GatedLRPCLITests: XCTestCase {
    struct Manifest: Decodable {
        struct Start: Decodable { var target: Int }
        struct Relevance: Decodable { var file: String; var max_abs: Double }
        struct Layer: Decodable { var tensor: String; var file: String; var max_abs: Double }
        struct Tolerance: Decodable { var rel_atol: Float; var rtol: Float }
        var generator: String
        var start: Start
        var relevance: Relevance
        var layers: [Layer]
        var tolerance: Tolerance
    }

    let dir = NSTemporaryDirectory() + "srtool-gated-lrp-\(getpid())"

    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs `explain` on a fixture (`composite`, then `extra` options) and returns one line per
    /// array (the input's, each residual sum's) outside the tolerance; empty when all match.
    func mismatches(_ name: String, composite: String = "epsilon-plus-flat", _ extra: [String] = []) throws -> [String] {
        let folder = "Fixtures/lrp/\(name)"
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lrp/\(name)/manifest.json")))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        XCTAssertEqual(manifest.generator, "Tools/make_gated_lrp_fixtures.py")
        let out = dir + "/\(name)-\(UUID().uuidString)"
        let r = try CLI.run(["explain", folder + "/model.onnx", "--input", folder + "/input.npy", "--composite", composite,
                             "--save", out + "/r.npy", "--save-layers", out + "/layers"] + extra)
        guard r.code == 0 else { return ["explain failed (exit \(r.code)): \(r.stderr)"] }
        XCTAssertTrue(r.stdout.contains("target \(manifest.start.target), "), r.stdout)
        var failures: [String] = []
        func compare(_ got: String, _ want: String, peak: Double, _ what: String) throws {
            let t = manifest.tolerance
            if let why = closeness(try NPY.read(path: got), try NPY.read(path: Fixtures.path("lrp/\(name)/" + want)),
                                   atol: t.rel_atol * Float(peak), rtol: t.rtol) {
                failures.append("\(name) \(what): \(why)")
            }
        }
        try compare(out + "/r.npy", manifest.relevance.file, peak: manifest.relevance.max_abs, "input")
        XCTAssertFalse(manifest.layers.isEmpty)
        for layer in manifest.layers {
            let file = layer.tensor.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_")
            try compare(out + "/layers/\(file).npy", layer.file, peak: layer.max_abs, layer.tensor)
        }
        return failures
    }

    func testEfficientNetMatchesTheReference() throws {
        let failures = try mismatches("gated_efficientnet")
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    func testConvNeXtMatchesTheReference() throws {
        let failures = try mismatches("gated_convnext")
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// The fixtures tell the rules apart: another rule on one kind of layer (the gate by its
    /// gradient, layer norm by its gradient, ε on a depthwise conv, norm-plus sums, z⁺ on the
    /// stem) puts the input relevance outside the tolerance.
    func testOtherRulesMissTheReference() throws {
        let efficientNet = "/features/features.1/features.1.0/block", convNeXt = "/features/features.1/features.1.0/block"
        let variants: [(String, String, [String])] = [
            ("gated_efficientnet", "epsilon-plus-flat", ["--rule", efficientNet + "/block.1/Mul=gradient"]),
            ("gated_efficientnet", "epsilon-plus-flat", ["--rule", efficientNet + "/block.0/block.0.0/Conv=epsilon"]),
            ("gated_efficientnet", "epsilon-plus-flat", ["--sum-rule", "norm-plus"]),
            ("gated_efficientnet", "epsilon-plus", []),
            ("gated_convnext", "epsilon-plus-flat", ["--rule", convNeXt + "/block.2/LayerNormalization=gradient"]),
            ("gated_convnext", "epsilon-plus-flat", ["--rule", convNeXt + "/block.0/Conv=epsilon"]),
            ("gated_convnext", "epsilon-plus-flat", ["--sum-rule", "norm-plus"]),
            ("gated_convnext", "epsilon-plus", []),
        ]
        for (name, composite, extra) in variants {
            let failures = try mismatches(name, composite: composite, extra)
            XCTAssertTrue(failures.contains { $0.hasPrefix("\(name) input: NOT OK") },
                          "\(name) --composite \(composite) \(extra.joined(separator: " ")) still matches: \(failures)")
        }
    }
}
