import Foundation
import SRCore
import SRFormats
import SRTestSupport
import XCTest

/// End-to-end: the built binary on the bundled model, fixtures and malformed files.
final class CLITests: XCTestCase {
    struct Expected: Decodable {
        struct Sample: Decodable { var name: String; var image: String; var logits: [Float]; var argmax: Int }
        var samples: [Sample]
    }

    func testPredictMatchesOnnxruntimeOnBundledSamples() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("bundled/expected.json")))
        let expected = try JSONDecoder().decode(Expected.self, from: data)
        let labels = try String(contentsOfFile: Fixtures.path("bundled/labels.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        for sample in expected.samples {
            let r = try CLI.run(["predict", "Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/" + sample.image,
                                 "--preprocess", "imagenet-full", "--labels", "Fixtures/bundled/labels.txt",
                                 "--top", "\(sample.logits.count)", "--json"])
            XCTAssertEqual(r.code, 0, r.stderr)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let results = try XCTUnwrap(json["results"] as? [[String: Any]])
            let preds = try XCTUnwrap(results.first?["predictions"] as? [[String: Any]])
            XCTAssertEqual(preds.first?["index"] as? Int, sample.argmax, sample.name)
            XCTAssertEqual(preds.first?["label"] as? String, labels[sample.argmax])
            var logits = [Float](repeating: .nan, count: sample.logits.count)
            for p in preds { if let i = p["index"] as? Int, let s = p["score"] as? Double { logits[i] = Float(s) } }
            if let why = closeness(logits, sample.logits, atol: 1e-5, rtol: 1e-4) { XCTFail("\(sample.name): \(why)") }
        }
    }

    func testMalformedCorpusGivesOneLineAndTheDocumentedCode() throws {
        struct Manifest: Decodable {
            struct Case: Decodable {
                var file: String; var exit_code: Int32; var stderr: String?; var inspect_exit_code: Int32?; var input: String?
            }
            var cases: [Case]
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("malformed/manifest.json")))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        XCTAssertGreaterThanOrEqual(manifest.cases.count, 10)
        for c in manifest.cases {
            for command in [["inspect"], ["run", "--input", c.input ?? "Fixtures/onnx/conv_basic/input.npy"]] {
                let start = Date()
                // A file libhdf5 hangs on is given up after SRTOOL_HDF5_TIMEOUT seconds. Under
                // 4 GiB of address space, as in a memory-capped job: a memory bomb must be
                // refused, not kill srtool.
                let r = try CLI.run([command[0], "Fixtures/malformed/" + c.file] + command.dropFirst(), timeout: 10,
                                    environment: ["SRTOOL_HDF5_TIMEOUT": "3"], addressSpaceLimit: 4 << 20)
                XCTAssertLessThan(Date().timeIntervalSince(start), 10, c.file)
                if command[0] == "inspect", let code = c.inspect_exit_code {
                    XCTAssertEqual(r.code, code, "inspect \(c.file): \(r.stderr)")
                    continue
                }
                XCTAssertEqual(r.code, c.exit_code, "\(command[0]) \(c.file): \(r.stderr)")
                XCTAssertEqual(r.errorLines.count, 1, "\(c.file): \(r.stderr)")
                XCTAssertTrue(r.errorLines.first?.hasPrefix("srtool: error: ") ?? false, r.stderr)
                if let line = c.stderr { XCTAssertEqual(r.errorLines.first, line) }
                XCTAssertEqual(r.stdout, "", c.file)
            }
        }
    }

    /// `run` on channels-last tokens through two linear layers it repacks (the GELU inside the
    /// first, the transpose to channels first written by the second) gives onnxruntime's
    /// output (Tools/make_onnx_fixtures.py `token_mlp`), from the ONNX file and from its
    /// `.srm`, whose memory-mapped weights are repacked and their pages given back.
    func testRunMatchesOnnxruntimeThroughRepackedLinearLayers() throws {
        let out = NSTemporaryDirectory() + "srtool-token-mlp-\(getpid()).npy"
        let srm = NSTemporaryDirectory() + "srtool-token-mlp-\(getpid()).srm"
        defer { for f in [out, srm] { try? FileManager.default.removeItem(atPath: f) } }
        let folder = "Fixtures/onnx/token_mlp"
        let converted = try CLI.run(["convert", folder + "/model.onnx", "-o", srm])
        XCTAssertEqual(converted.code, 0, converted.stderr)
        let want = try NPY.read(path: Fixtures.path("onnx/token_mlp/output.npy"))
        for model in [folder + "/model.onnx", srm] {
            let r = try CLI.run(["run", model, "--input", folder + "/input.npy", "-o", out])
            XCTAssertEqual(r.code, 0, r.stderr)
            if let why = closeness(try NPY.read(path: out), want, atol: 1e-5, rtol: 1e-4) { XCTFail("\(model): \(why)") }
        }
    }

    /// NaN/Inf weights: inspect shows them, run refuses them unless --allow-nonfinite.
    func testNonFiniteWeights() throws {
        let shown = try CLI.run(["inspect", "Fixtures/malformed/nan_weight.onnx", "--layer", "conv"])
        XCTAssertEqual(shown.code, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("holds 2 NaN/Inf value(s)"), shown.stdout)
        let x = NSTemporaryDirectory() + "srtool-nan-\(getpid()).npy"
        defer { try? FileManager.default.removeItem(atPath: x) }
        try NPY.write(try Tensor(shape: [1, 2, 4, 4], values: [Float](repeating: 0.5, count: 32)), to: x)
        let allowed = try CLI.run(["run", "Fixtures/malformed/nan_weight.onnx", "--input", x, "--allow-nonfinite"])
        XCTAssertEqual(allowed.code, 0, allowed.stderr)
        let good = try NPY.read(path: Fixtures.path("onnx/conv_basic/input.npy"))
        var bad = good.values
        bad[3] = .nan
        try NPY.write(try Tensor(shape: good.shape, values: bad), to: x)
        let input = try CLI.run(["run", "Fixtures/onnx/conv_basic/model.onnx", "--input", x])
        XCTAssertEqual(input.code, 65, input.stderr)
        XCTAssertEqual(input.errorLines, ["srtool: error: the input holds 1 NaN/Inf value(s); pass --allow-nonfinite to run anyway"])
    }

    /// --max-tensor-elements and --max-nodes cap what an import may build, in every format
    /// (the HDF5 child gets them too).
    func testImportLimitsFromTheCommandLine() throws {
        let cases: [([String], String)] = [
            (["Fixtures/onnx/vgg_mini/model.onnx", "--max-tensor-elements", "100"],
             "srtool: error: initializer 'conv1_1.weight': 108 elements exceed the limit of 100"),
            (["Fixtures/onnx/vgg_mini/model.onnx", "--max-nodes", "3"], "srtool: error: graph has 13 nodes, more than the limit of 3"),
            (["Fixtures/caffe/alexnet_mini/alexnet_mini.caffemodel", "--max-tensor-elements", "1000"],
             "srtool: error: layer 'conv3' blob 0: 1152 elements exceed the limit of 1000"),
            (["Fixtures/keras/sequential_cnn/model.keras", "--max-tensor-elements", "100"],
             "srtool: error: dataset 'layers/conv2d/vars/0': 216 elements exceed the limit of 100"),
            (["Fixtures/keras/sequential_cnn/model.h5", "--max-nodes", "2"], "srtool: error: graph has 3 nodes, more than the limit of 2"),
        ]
        for (arguments, line) in cases {
            let r = try CLI.run(["inspect"] + arguments)
            XCTAssertEqual(r.code, 65, r.stderr)
            XCTAssertEqual(r.errorLines, [line])
        }
        XCTAssertEqual(try CLI.run(["inspect", "Fixtures/onnx/vgg_mini/model.onnx", "--max-nodes", "0"]).code, 64)
        XCTAssertEqual(try CLI.run(["inspect", "Fixtures/onnx/vgg_mini/model.onnx", "--max-nodes", "13"]).code, 0)
    }

    /// Every usage error, whoever finds it (the argument parser, a validation, a rule on a
    /// layer it does not apply to), is one `srtool: error:` line and exit 64; negative numbers
    /// parse as values.
    func testUsageErrorsAreOneLine() throws {
        let image = ["Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/circle_1.png"]
        let labels = NSTemporaryDirectory() + "srtool-labels-\(getpid()).txt"
        try "cat\ndog\n".write(toFile: labels, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: labels) }
        for (arguments, line) in [
            (["explain"] + image + ["--method", "lrpp"], "The value 'lrpp' is invalid for '--method <method>'. Please provide one of lrp, gradient, gradxinput, deconvnet, guided, smoothgrad, ig, occlusion, cam, gradcam, guided-gradcam, sr"),
            (["explain"] + image + ["--composite", "eps"], "The value 'eps' is invalid for '--composite <composite>'. Please provide one of attnlrp, cp-lrp, attnlrp-gamma, cp-lrp-gamma, epsilon-plus, epsilon-plus-flat, epsilon-gamma-box, epsilon-alpha2-beta1, epsilon-alpha2-beta1-flat, excitation-backprop, sr-paper, guided-backprop, deconvnet, gradient"),
            (["explain"] + image + ["--normalization", "minmax"], "The value 'minmax' is invalid for '--normalization <mode>'. Please provide one of symmetric, absolute, unaligned"),
            (["predict", "Fixtures/bundled/shapes.onnx", "--preprocess", "imagenett"], "The value 'imagenett' is invalid for '--preprocess <preprocess>'. Please provide one of imagenet, imagenet-full, caffe, vggface, grayscale, none"),
            (["inspect", "Fixtures/bundled/shapes.onnx", "--bogus"], "Unknown option '--bogus'"),
            (["inspect", "Fixtures/bundled/shapes.onnx", "--layer", "99"], "--layer: no layer named '99' and no # 99 (the model's layers are # 0 to 15; see srtool inspect)"),
            (["explain"] + image + ["--method", "occlusion", "--window", "100"], "--window 100 is larger than the 64×64 input"),
            (["explain"] + image + ["--steps", "0"], "--steps must be at least 1"),
            (["explain"] + image + ["--integration", "simpson"], "The value 'simpson' is invalid for '--integration <integration>'. Please provide one of riemann, gausslegendre"),
            (["explain"] + image + ["--target", "-1"], "target -1 is out of range: the model has 4 classes"),
            (["verify"] + image + ["--tolerance", "-1"], "--tolerance must not be negative"),
            (["explain"] + image + ["--rule", "/MaxPool=epsilon"], "rule 'epsilon:1e-06' does not apply to layer '/MaxPool' (maxPool2d)"),
            (["explain"] + image + ["-o", "heat.gif"], "-o heat.gif: srtool writes PNG or JPEG there; name the file .png or .jpg or .jpeg"),
            (["explain"] + image + ["--save", "map.png"], "--save map.png: srtool writes a .npy array there; name the file .npy"),
            (["run"] + image + ["-o", "y.txt"], "-o y.txt: srtool writes a .npy array there; name the file .npy"),
            (["convert", "Fixtures/bundled/shapes.onnx", "-o", labels + ".srm", "--labels", labels],
             "--labels \(labels) names 2 classes; the model's output has 4"),
        ] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.code, 64, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.errorLines, ["srtool: error: " + line])
        }
        let help = try CLI.run(["explain", "--help"])
        XCTAssertEqual(help.code, 0)
        XCTAssertTrue(help.stdout.hasPrefix("OVERVIEW:"), help.stdout)
    }

    /// `--rule` naming a layer whose op the rule cannot explain (a weight rule on pooling, z⁺
    /// on a ReLU, pass on a conv) is a usage error in every command that takes it: one line
    /// naming the layer, its op and the rule, exit 64, before anything is computed or written.
    func testARuleOnALayerItCannotExplainIsAUsageError() throws {
        let dir = NSTemporaryDirectory() + "srtool-rule-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = ["Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/circle_1.png"]
        for (command, rule, line) in [
            (["explain"] + image + ["-o", dir + "/heat.png"], "/MaxPool=epsilon",
             "rule 'epsilon:1e-06' does not apply to layer '/MaxPool' (maxPool2d)"),
            (["verify"] + image, "/Relu=zplus", "rule 'zplus' does not apply to layer '/Relu' (relu)"),
            (["render"] + image + ["--out", dir + "/report"], "/conv1/Conv=pass", "rule 'pass' does not apply to layer '/conv1/Conv' (conv2d)"),
            (["explain"] + image + ["--save", dir + "/r.npy"], "15=norm", "rule 'norm' does not apply to layer '/fc2/Gemm' (linear)"),
            (["verify"] + image + ["--json"], "/Flatten=product", "rule 'product' does not apply to layer '/Flatten' (flatten)"),
        ] {
            let r = try CLI.run(command + ["--rule", rule])
            XCTAssertEqual(r.code, 64, "\(command) --rule \(rule): \(r.stderr)")
            XCTAssertEqual(r.errorLines, ["srtool: error: " + line])
            XCTAssertEqual(r.stdout, "")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "\(command) wrote before refusing")
        }
        let fine = try CLI.run(["verify"] + image + ["--rule", "/MaxPool=gradient", "--rule", "/Relu=pass", "--rule", "/fc2/Gemm=zplus"])
        XCTAssertEqual(fine.code, 0, fine.stderr)
    }

    func testExitCodes() throws {
        XCTAssertEqual(try CLI.run(["inspect", "Fixtures/nothing-here.onnx"]).code, 66)
        XCTAssertEqual(try CLI.run(["inspect"]).code, 64)
        XCTAssertEqual(try CLI.run(["inspect", "Fixtures/onnx/head/model.onnx", "--layer", "nope"]).code, 64)
        XCTAssertEqual(try CLI.run(["run", "Fixtures/onnx/head/model.onnx"]).code, 64)
        let wrongShape = try CLI.run(["run", "Fixtures/onnx/head/model.onnx", "--input", "Fixtures/onnx/conv_basic/input.npy"])
        XCTAssertEqual(wrongShape.code, 65, wrongShape.stderr)
        let cannotWrite = try CLI.run(["run", "Fixtures/onnx/head/model.onnx", "--input", "Fixtures/onnx/head/input.npy",
                                       "-o", "/nonexistent-dir/y.npy"])
        XCTAssertEqual(cannotWrite.code, 73, cannotWrite.stderr)
        XCTAssertEqual(cannotWrite.errorLines.count, 1)
    }

    func testRunWritesOutputAndDump() throws {
        let dir = NSTemporaryDirectory() + "srtool-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["run", "Fixtures/onnx/vgg_mini/model.onnx", "--input", "Fixtures/onnx/vgg_mini/input.npy",
                             "-o", dir + "/y.npy", "--dump", dir + "/layers"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let y = try NPY.read(path: dir + "/y.npy")
        let want = try NPY.read(path: Fixtures.path("onnx/vgg_mini/output.npy"))
        if let why = closeness(y, want, atol: 1e-5, rtol: 1e-4) { XCTFail(why) }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/layers")
        XCTAssertGreaterThan(files.count, 8)
        XCTAssertFalse(files.contains { $0.hasPrefix(".") && $0 != ".srtool-output" }, "temporary files left behind: \(files)")
    }

    func testConvertToSRMThenRun() throws {
        let path = NSTemporaryDirectory() + "srtool-convert-\(getpid()).srm"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try CLI.run(["convert", "Fixtures/bundled/shapes.onnx", "-o", path, "--labels", "Fixtures/bundled/labels.txt",
                             "--preprocess", "imagenet-full"])
        XCTAssertEqual(c.code, 0, c.stderr)
        let direct = try CLI.run(["predict", "Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/square_0.png",
                                  "--preprocess", "imagenet-full", "--labels", "Fixtures/bundled/labels.txt"])
        let viaSRM = try CLI.run(["predict", path, "--image", "Fixtures/bundled/samples/square_0.png"])
        XCTAssertEqual(viaSRM.code, 0, viaSRM.stderr)
        XCTAssertEqual(viaSRM.stdout.split(separator: "\n").dropFirst(), direct.stdout.split(separator: "\n").dropFirst())
        XCTAssertEqual(viaSRM.stderr, "", "a model carrying its preset needs no warning")
    }

    func testInspectSnapshots() throws {
        // The default memory budget depends on the machine: a fixed one keeps the snapshots stable.
        let text = try CLI.run(["inspect", "Fixtures/onnx/resnet_mini/model.onnx", "--max-memory", "8G"])
        XCTAssertEqual(text.code, 0)
        if let why = assertSnapshot(text.stdout, named: "inspect-resnet_mini.txt") { XCTFail(why) }
        let json = try CLI.run(["inspect", "Fixtures/onnx/resnet_mini/model.onnx", "--json", "--max-memory", "8G"])
        if let why = assertSnapshot(json.stdout, named: "inspect-resnet_mini.json") { XCTFail(why) }
        let layer = try CLI.run(["inspect", "Fixtures/onnx/resnet_mini/model.onnx", "--layer", "conv1", "--json"])
        XCTAssertEqual(layer.code, 0, layer.stderr)
        if let why = assertSnapshot(layer.stdout, named: "inspect-resnet_mini-conv1.json") { XCTFail(why) }
        let help = try CLI.run(["--help"])
        if let why = assertSnapshot(help.stdout, named: "help.txt") { XCTFail(why) }
    }
}
