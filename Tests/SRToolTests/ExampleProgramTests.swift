import Foundation
import XCTest
import SRTestSupport

/// The README's "Using SRKit from Swift" program (Examples/ExplainImage), built with the
/// package: it draws the same heatmap as `srtool explain`, and reads a Keras .h5 through the
/// isolated libhdf5 child as srtool does.
final class ExampleProgramTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "srtool-example-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testTheExampleDrawsWhatExplainDraws() throws {
        let model = "Fixtures/bundled/shapes.onnx", image = "Fixtures/bundled/samples/circle_1.png"
        let example = try CLI.run([model, image, dir + "/example.png"], program: "explain-image")
        XCTAssertEqual(example.code, 0, example.stderr)
        let explain = try CLI.run(["explain", model, "--image", image, "-o", dir + "/explain.png", "--json"])
        XCTAssertEqual(explain.code, 0, explain.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/example.png")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/explain.png")), "the example's heatmap differs from explain's")
        let report = try JSONSerialization.jsonObject(with: Data(explain.stdout.utf8)) as? [String: Any]
        let item = (report?["results"] as? [[String: Any]])?.first
        let target = try XCTUnwrap(item?["target"] as? Int)
        XCTAssertTrue(example.stdout.hasPrefix("class \(target), "), example.stdout)
    }

    func testTheExampleReadsKerasThroughTheIsolatedChild() throws {
        // The child is the example itself (`/proc/self/exe _import …`); given no time, the
        // child's time limit is what stops the read, which only a child has.
        let model = "Fixtures/keras/sequential_cnn/model.h5"
        let r = try CLI.run([model, "Fixtures/bundled/samples/circle_1.png", dir + "/out.png"], program: "explain-image",
                            environment: ["SRTOOL_HDF5_TIMEOUT": "0.000001"])
        XCTAssertEqual(r.code, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("reading it did not finish within"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.png"))
    }
}
