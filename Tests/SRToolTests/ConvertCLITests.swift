import Foundation
import SRCore
import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// `srtool convert` end to end: Caffe and Keras files to .srm and ONNX, the files it finds
/// beside a caffemodel, its default output name, and atomic writes under SIGKILL.
final class ConvertCLITests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "srtool-convert-cli-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The headline use: `srtool convert vgg_face.caffemodel` with the V1 deploy prototxt
    /// beside it → `vgg_face.srm` beside it, which runs to Caffe's numbers.
    func testConvertCaffemodelFindsItsPrototxt() throws {
        let src = Fixtures.path("caffe/vggface_mini_v1")
        for f in ["vggface_mini_v1.caffemodel", "deploy_v1.prototxt"] {
            try FileManager.default.copyItem(atPath: "\(src)/\(f)", toPath: "\(dir)/\(f)")
        }
        try "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n".write(toFile: dir + "/names.txt", atomically: true, encoding: .utf8)
        let r = try CLI.run(["convert", "\(dir)/vggface_mini_v1.caffemodel", "--labels", dir + "/names.txt"])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.errorLines, [
            "srtool: using deploy prototxt \(dir)/deploy_v1.prototxt (found beside vggface_mini_v1.caffemodel; --prototxt overrides)",
            "wrote \(dir)/vggface_mini_v1.srm: 24 layers, 32,514 parameters",
        ])
        let graph = try ModelLoader.load(path: dir + "/vggface_mini_v1.srm").graph
        XCTAssertEqual(graph.metadata, GraphMetadata(sourceFormat: "caffe", sourceFiles: ["vggface_mini_v1.caffemodel", "deploy_v1.prototxt"],
                                                    preprocess: "vggface", labels: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]))
        let x = try NPY.read(path: src + "/input.npy")
        let y = try Executor(graph: graph).outputs(x)[0]
        if let why = closeness(y, try NPY.read(path: src + "/output.npy"), atol: 1e-5, rtol: 1e-4) { XCTFail(why) }
    }

    /// To ONNX, re-read by srtool's own ONNX importer: the same numbers (onnxruntime and
    /// onnx.checker check the same files in Tools/check_onnx_export.py).
    func testConvertToONNXRoundTrips() throws {
        for (model, extra, input) in [
            ("caffe/alexnet_mini/alexnet_mini.caffemodel", [String](), "caffe/alexnet_mini/input.npy"),
            ("caffe/pooling_edges/pooling_edges.caffemodel.h5", [], "caffe/pooling_edges/input.npy"),
            ("keras/functional_branches/model.keras", [], ""),
        ] {
            let out = dir + "/model.onnx"
            let r = try CLI.run(["convert", "Fixtures/" + model, "-o", out] + extra)
            XCTAssertEqual(r.code, 0, r.stderr)
            let original = try ModelLoader.load(path: Fixtures.path(model)).graph
            let exported = try ONNXImporter.load(path: out)
            XCTAssertEqual(exported.metadata.preprocess, original.metadata.preprocess)
            var shape = original.inputs[0].shape
            shape[0] = 2
            let x = input.isEmpty ? try Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { Float(($0 * 7919) % 201) / 100 - 1 })
                                  : try NPY.read(path: Fixtures.path(input))
            let a = try Executor(graph: original).outputs(x), b = try Executor(graph: exported).outputs(x)
            XCTAssertEqual(a.count, b.count, model)
            for (p, q) in zip(a, b) { if let why = closeness(q, p, atol: 1e-5, rtol: 1e-4) { XCTFail("\(model): \(why)") } }
        }
    }

    /// The default output is `<name>.srm` beside the model, model extensions removed.
    func testDefaultOutputNames() throws {
        let copies = [("caffe/resnet_block/resnet_block.caffemodel.h5", "net.caffemodel.h5", "net.srm"),
                      ("caffe/resnet_block/deploy.prototxt", "deploy.prototxt", nil),
                      ("keras/sequential_cnn/model.keras", "fer.keras", "fer.srm")]
        for (src, name, _) in copies { try FileManager.default.copyItem(atPath: Fixtures.path(src), toPath: "\(dir)/\(name)") }
        for (_, name, srm) in copies {
            guard let srm else { continue }
            let r = try CLI.run(["convert", "\(dir)/\(name)"])
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(srm)"), r.stderr)
        }
    }

    /// The progress bar appears when stderr is a terminal (here a pseudo-terminal made by
    /// util-linux `script`), and not when stderr is a pipe.
    func testProgressBarOnlyOnATerminal() throws {
        var big = try ModelLoader.load(path: Fixtures.path("onnx/conv_basic/model.onnx")).graph
        big.weights["ballast"] = Tensor(zeros: [20 << 20])
        let source = dir + "/big.srm"
        try SRMFile.write(big, to: source)
        let piped = try CLI.run(["convert", source, "-o", dir + "/a.srm"])
        XCTAssertEqual(piped.errorLines, ["wrote \(dir)/a.srm: 6 layers, 20,972,083 parameters"])
        let (text, status) = try CLI.runOnTerminal("convert \(source) -o \(dir)/b.srm")
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("\rwriting b.srm [########################] 100%"), text)
        XCTAssertTrue(text.contains("wrote \(dir)/b.srm"), text)
    }

    /// SIGKILL at moments spread over a whole `convert` run (loading, writing, renaming):
    /// afterwards the folder holds the source and the target, which is either the previous
    /// file or the complete new one — nothing else, no temporary file (O_TMPFILE).
    func testKilledAtAnyMomentLeavesThePreviousOrTheNewFileAndNothingElse() throws {
        // A 256 MB model, so that writing takes long enough to be caught in the middle.
        var big = try ModelLoader.load(path: Fixtures.path("onnx/conv_basic/model.onnx")).graph
        big.weights["ballast"] = Tensor(zeros: [64 << 20])
        big.nodes[0].params["unused"] = nil
        let source = dir + "/big.srm", target = dir + "/out.srm"
        try SRMFile.write(big, to: source)
        // The complete new file, and how long a run takes (the faster of two: the first
        // also fills the page cache).
        var duration = Double.infinity
        for _ in 0..<2 {
            let started = Date()
            let full = try CLI.run(["convert", source, "-o", target])
            XCTAssertEqual(full.code, 0, full.stderr)
            duration = min(duration, Date().timeIntervalSince(started))
        }
        let complete = try Data(contentsOf: URL(fileURLWithPath: target))
        try SRMFile.write(try ModelLoader.load(path: Fixtures.path("onnx/conv_basic/model.onnx")).graph, to: target)
        let previous = try Data(contentsOf: URL(fileURLWithPath: target))
        var generator = SystemRandomNumberGenerator()
        var interrupted = 0
        // A run that ends before its kill says the machine got faster than in the timed runs
        // (another process finished): the later moments are taken from a shorter span.
        var span = duration
        for i in 0..<10 {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = ["convert", source, "-o", target]
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Moments spread over the first nine tenths of the run (a run may be a little
            // faster than the one timed), each jittered within its tenth of that span.
            usleep(UInt32(0.9 * span * (Double(i) + Double.random(in: 0..<1, using: &generator)) / 10 * 1e6))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { interrupted += 1 } else { span *= 0.7 }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["big.srm", "out.srm"])
            let now = try Data(contentsOf: URL(fileURLWithPath: target))
            XCTAssertTrue(now == previous || now == complete, "kill \(i): the target is neither the previous nor the new file")
            if now == complete { try previous.write(to: URL(fileURLWithPath: target)) }
        }
        XCTAssertGreaterThanOrEqual(interrupted, 5, "srtool finished before most kills; the moments did not cover the run")
    }
}
