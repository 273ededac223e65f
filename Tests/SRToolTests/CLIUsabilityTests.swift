import Foundation
import SRImage
import SRTestSupport
import XCTest

/// The CLI as people meet it (issue: inputs the way people pass them, outputs true to their
/// names, progress, JSON everywhere, a report that says what it shows), on the built binary.
final class CLIUsabilityTests: XCTestCase {
    let model = "Fixtures/bundled/shapes.onnx"
    let samples = "Fixtures/bundled/samples"
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "srtool-usability-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testSeveralImagesAfterOneFlagAFolderAndStandardInput() throws {
        let two = try CLI.run(["predict", model, "--image", "\(samples)/circle_0.png", "\(samples)/cross_1.png", "--json"])
        XCTAssertEqual(two.code, 0, two.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(two.stdout.utf8)) as? [String: Any])
        let inputs = (json["results"] as? [[String: Any]])?.compactMap { $0["input"] as? String }
        XCTAssertEqual(inputs, ["\(samples)/circle_0.png", "\(samples)/cross_1.png"])

        // A folder: every image in it (its masks left out), sorted, each picture named after its input.
        let folder = try CLI.run(["explain", model, "--image", samples, "-o", dir + "/maps/"])
        XCTAssertEqual(folder.code, 0, folder.stderr)
        let pictures = try FileManager.default.contentsOfDirectory(atPath: samples)
            .filter { $0.hasSuffix(".png") && !$0.hasSuffix("_mask.png") }.sorted()
        XCTAssertEqual(pictures.count, 8)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/maps").sorted(), pictures)
        XCTAssertEqual(folder.stdout.split(separator: "\n").filter { $0.hasPrefix("  wrote ") }.count, pictures.count)

        // A file name with several inputs: <name>_<input>.png beside it.
        let named = try CLI.run(["explain", model, "--image", "\(samples)/circle_0.png", "\(samples)/cross_1.png",
                                 "-o", dir + "/heat.png"])
        XCTAssertEqual(named.code, 0, named.stderr)
        for stem in ["circle_0", "cross_1"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/heat_\(stem).png"), named.stdout)
        }

        // Standard input: the same map as from the file, named "stdin".
        let stdin = try XCTUnwrap(FileHandle(forReadingAtPath: "\(samples)/circle_1.png"))
        let piped = try CLI.run(["explain", model, "--image", "-", "--save", dir + "/stdin.npy"], stdin: stdin)
        XCTAssertEqual(piped.code, 0, piped.stderr)
        XCTAssertTrue(piped.stdout.hasPrefix("stdin: target 0 (circle)"), piped.stdout)
        let file = try CLI.run(["explain", model, "--image", "\(samples)/circle_1.png", "--save", dir + "/file.npy"])
        XCTAssertEqual(file.code, 0, file.stderr)
        XCTAssertEqual(try bytes(dir + "/stdin.npy"), try bytes(dir + "/file.npy"))
    }

    func testPicturesAreWrittenInTheFormatTheirNameSays() throws {
        for (name, magic) in [("h.png", [0x89, 0x50, 0x4e, 0x47]), ("h.jpg", [0xff, 0xd8, 0xff]), ("h.JPEG", [0xff, 0xd8, 0xff])] {
            let r = try CLI.run(["explain", model, "--image", "\(samples)/square_0.png", "-o", "\(dir)/\(name)"])
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertEqual(Array(try bytes("\(dir)/\(name)").prefix(magic.count)), magic.map(UInt8.init), name)
        }
        let jpeg = try RGBImage.read(path: dir + "/h.jpg"), png = try RGBImage.read(path: dir + "/h.png")
        XCTAssertEqual([jpeg.width, jpeg.height], [png.width, png.height])
        // Quality 95: within a few levels of the PNG on average.
        let diff = zip(jpeg.pixels, png.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        XCTAssertLessThan(Double(diff) / Double(png.pixels.count), 4)
    }

    func testLayerNumbersFromInspectWorkWhereverALayerIsNamed() throws {
        let layer = try CLI.run(["inspect", model, "--layer", "0", "--json"])
        XCTAssertEqual(layer.code, 0, layer.stderr)
        XCTAssertTrue(layer.stdout.contains("\"name\" : \"/conv1/Conv\""), layer.stdout)
        let image = ["--image", "\(samples)/triangle_0.png"]
        for (a, b) in [(["--method", "gradcam", "--layer", "0"], ["--method", "gradcam", "--layer", "/conv1/Conv"]),
                       (["--rule", "0=zplus"], ["--rule", "/conv1/Conv=zplus"])] {
            let byNumber = try CLI.run(["explain", model] + image + a + ["--save", dir + "/a.npy"])
            let byName = try CLI.run(["explain", model] + image + b + ["--save", dir + "/b.npy"])
            XCTAssertEqual(byNumber.code, 0, byNumber.stderr)
            XCTAssertEqual(byName.code, 0, byName.stderr)
            XCTAssertEqual(try bytes(dir + "/a.npy"), try bytes(dir + "/b.npy"), "\(a)")
        }
        let rendered = try CLI.run(["render", model] + image + ["--layers", "0,/conv2/Conv", "--out", dir + "/r", "--json"])
        XCTAssertEqual(rendered.code, 0, rendered.stderr)
        XCTAssertTrue(rendered.stdout.contains("\"layer_tiles\" : 2"), rendered.stdout)
    }

    func testOptionsTheMethodIgnoresAreNamedInOneWarning() throws {
        let image = ["--image", "\(samples)/circle_1.png", "-o", dir + "/h.png"]
        let r = try CLI.run(["explain", model] + image + ["--method", "gradient", "--epsilon", "0.1", "--window", "3", "--composite", "epsilon-plus"])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.errorLines, ["srtool: warning: --composite, --epsilon, --window are ignored by --method gradient"])
        let alpha = try CLI.run(["explain", model] + image + ["--alpha", "0.3"])
        XCTAssertEqual(alpha.errorLines, ["srtool: warning: --alpha is ignored without --overlay"])
        let clean = try CLI.run(["explain", model] + image + ["--method", "ig", "--steps", "8"])
        XCTAssertEqual(clean.errorLines, [])
    }

    func testOcclusionDefaultsAreCheapAndMorePassesAreAnnounced() throws {
        let image = ["explain", model, "--image", "\(samples)/circle_1.png", "--method", "occlusion"]
        // Default on 64 px: window = stride = ⌈64/14⌉ = 5, 13 × 13 = 169 passes, no notice.
        let quiet = try CLI.run(image + ["--save", dir + "/default.npy"])
        XCTAssertEqual(quiet.code, 0, quiet.stderr)
        XCTAssertEqual(quiet.errorLines, [])
        let explicit = try CLI.run(image + ["--window", "5", "--stride", "5", "--save", dir + "/explicit.npy"])
        XCTAssertEqual(explicit.errorLines, [])
        XCTAssertEqual(try bytes(dir + "/default.npy"), try bytes(dir + "/explicit.npy"))
        // 961 passes of a debug build: past the default 60 s limit when the machine's cores are
        // taken (a CI run killed it at 60 s once).
        let many = try CLI.run(image + ["--window", "4", "--stride", "2"], timeout: 300)
        XCTAssertEqual(many.code, 0, many.stderr)
        XCTAssertEqual(many.errorLines, ["srtool: occlusion makes 961 forward passes per image (window 4, stride 2 on 64×64)"])
    }

    /// Progress with a rate and the time left on a terminal (a pseudo-terminal made by
    /// util-linux `script`); nothing with --quiet or when stderr is a pipe.
    func testProgressOnATerminalOnly() throws {
        func onTerminal(_ arguments: String) throws -> String {
            let (text, status) = try CLI.runOnTerminal(arguments)
            XCTAssertEqual(status, 0, text)
            return text
        }
        let command = "explain \(model) --image \(samples)/circle_1.png --method occlusion --window 4 --stride 2"
        let shown = try onTerminal(command)
        XCTAssertTrue(shown.contains("\rocclusion [########################] 100%"), shown)
        XCTAssertTrue(shown.contains("passes/s  ETA "), shown)
        XCTAssertFalse(try onTerminal(command + " --quiet").contains("\rocclusion"))
        let folder = try onTerminal("explain \(model) --image \(samples) -o \(dir)/m/")
        XCTAssertTrue(folder.contains("\rexplaining [########################] 100%"), folder)
        let piped = try CLI.run(command.split(separator: " ").map(String.init), environment: ["SRTOOL_PROGRESS_AFTER": "0"])
        XCTAssertFalse(piped.stderr.contains("\r"), piped.stderr)
    }

    /// `--overlay` draws on the photo at its own size: the network's crop mapped back, the
    /// part it never saw in grey; `--canvas input` gives the network's size.
    func testOverlaysAreDrawnOnThePhoto() throws {
        let photo = "Fixtures/images/landscape.png"  // 48 × 40; the shapes model takes 64 × 64
        let r = try CLI.run(["explain", model, "--image", photo, "--overlay", "-o", dir + "/o.png"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let o = try RGBImage.read(path: dir + "/o.png"), original = try RGBImage.read(path: photo)
        XCTAssertEqual([o.width, o.height], [48, 40])
        // imagenet-full: 48 × 40 → 76 × 64, crop x 6…70, i.e. photo columns 3.8…44.2.
        for x in [0, 1, 2, 45, 46, 47] {
            XCTAssertEqual(o.at(x, 20, 0), o.at(x, 20, 1), "column \(x) lies outside the crop: grey")
            XCTAssertEqual(o.at(x, 20, 1), o.at(x, 20, 2))
        }
        let inside = (4..<44).filter { x in (0..<3).contains { o.at(x, 20, $0) != original.at(x, 20, $0) } }
        XCTAssertEqual(inside.count, 40, "every column inside the crop is blended")
        let atInput = try CLI.run(["explain", model, "--image", photo, "--overlay", "--canvas", "input", "-o", dir + "/i.png"])
        XCTAssertEqual(atInput.code, 0, atInput.stderr)
        let i = try RGBImage.read(path: dir + "/i.png")
        XCTAssertEqual([i.width, i.height], [64, 64])
    }

    /// Every command prints stable JSON with --json (docs/json.md); the snapshots pin the
    /// field names (numbers rounded, the temporary folder written as $TMP).
    func testJSONOnEveryCommand() throws {
        let image = ["--image", "\(samples)/cross_0.png"]
        let commands: [(String, [String])] = [
            ("explain", ["explain", model] + image + ["-o", dir + "/h.png"]),
            ("explain-gradcam", ["explain", model] + image + ["--method", "gradcam", "--layer", "all"]),
            ("run", ["run", model] + image),
            ("saliency", ["saliency", "\(samples)/cross_0.png", "--working-size", "40", "-o", dir + "/s.png"]),
            ("render", ["render", model] + image + ["--out", dir + "/r"]),
            ("convert", ["convert", model, "-o", dir + "/m.srm"]),
            ("presets", ["presets"]),
            ("colormaps", ["colormaps"]),
        ]
        for (name, arguments) in commands {
            let r = try CLI.run(arguments + ["--json"])
            XCTAssertEqual(r.code, 0, "\(name): \(r.stderr)")
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), "\(name): \(r.stdout)")
            // roundedJSON writes "/" as "\/".
            let text = roundedJSON(r.stdout).replacingOccurrences(of: dir.replacingOccurrences(of: "/", with: "\\/"), with: "$TMP")
            if let why = assertSnapshot(text, named: "json-\(name).json") { XCTFail(why) }
        }
    }

    func testHelpIsShortAndCompletionKnowsTheValues() throws {
        let help = try CLI.run(["explain", "--help"])
        XCTAssertEqual(help.code, 0)
        XCTAssertLessThan(help.stdout.split(separator: "\n").count, 120)
        if let why = assertSnapshot(help.stdout, named: "explain-help.txt") { XCTFail(why) }
        let hidden = try CLI.run(["explain", "--help-hidden"])
        for option in ["--max-macs", "--mean", "--seed", "--batch", "--neighbours", "--repeat"] {
            XCTAssertFalse(help.stdout.contains(option + " "), option)
            XCTAssertTrue(hidden.stdout.contains(option + " "), option)
        }
        for shell in ["bash", "zsh", "fish"] {
            let script = try CLI.run(["--generate-completion-script", shell])
            XCTAssertEqual(script.code, 0, shell)
            for value in ["epsilon-plus-flat", "guided-gradcam", "imagenet-full", "coldnhot"] {
                XCTAssertTrue(script.stdout.contains(value), "\(shell) completes \(value)")
            }
        }
    }

    /// The report names the method of every picture, has colour bars, a chart with layer
    /// names and an axis, names that break between their parts; --cmap and --working-size
    /// are followed.
    func testRenderSaysWhatItShows() throws {
        let image = ["--image", "\(samples)/circle_0.png"]
        let r = try CLI.run(["render", model] + image + ["--method", "gradient", "--out", dir + "/g"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let html = String(decoding: try bytes(dir + "/g/index.html"), as: UTF8.self)
        for text in ["gradient: ∂logit/∂x", "LRP relevance per layer (epsilon-plus-flat)", "heatmap colours (gradient)",
                     "layer tile colours (LRP)", "layer (input → output)", "Σ relevance", "/<wbr>conv1/<wbr>Conv"] {
            XCTAssertTrue(html.contains(text), text)
        }
        let gray = try CLI.run(["render", model] + image + ["--cmap", "gray", "--out", dir + "/gray"])
        XCTAssertEqual(gray.code, 0, gray.stderr)
        let tile = try RGBImage.read(path: dir + "/gray/heatmap.png")
        XCTAssertTrue(stride(from: 0, to: tile.pixels.count, by: 3).allSatisfy { tile.pixels[$0] == tile.pixels[$0 + 1] },
                      "--cmap gray gives grey pixels")
        for size in ["40", "64"] {
            let sr = try CLI.run(["render", model] + image + ["--sr", "--working-size", size, "--out", dir + "/sr" + size])
            XCTAssertEqual(sr.code, 0, sr.stderr)
        }
        XCTAssertNotEqual(try bytes(dir + "/sr40/sr.png"), try bytes(dir + "/sr64/sr.png"), "--working-size reaches the SR map")
    }
}
