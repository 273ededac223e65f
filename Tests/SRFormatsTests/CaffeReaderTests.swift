import Foundation
@testable import SRFormats
import SRCore
import SRTestSupport
import XCTest

/// The Caffe readers' own pieces: the prototxt syntax tree, the schema audit, the wire walk.
final class CaffeReaderTests: XCTestCase {
    /// A fresh empty folder under the temporary directory.
    func temporaryFolder(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "/srtool-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func testSchemaAuditKnowsFieldNames() {
        XCTAssertTrue(CaffeSchemaAudit.knows(Caffe_PoolingParameter.self, "round_mode"))
        XCTAssertTrue(CaffeSchemaAudit.knows(Caffe_PoolingParameter.self, "kernel_size"))
        XCTAssertFalse(CaffeSchemaAudit.knows(Caffe_PoolingParameter.self, "ceil_mode"))
        XCTAssertFalse(CaffeSchemaAudit.knows(Caffe_LayerParameter.self, "bn_param"))
    }
}


extension CaffeReaderTests {
    func parseError(_ text: String) -> String? {
        do {
            _ = try Prototxt(path: "/x/net.prototxt", text: text)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Syntax errors name the file, line and column of the offending token.
    func testPrototxtSyntaxErrorsAreLocated() {
        XCTAssertEqual(parseError("name: \"a\"\nlayer {\n  type \"ReLU\"\n}\n"),
                       "net.prototxt:3:8: expected ':' or '{' after 'type', found '\"'")
        XCTAssertEqual(parseError("layer {\n  name: \"a\"\n"), "net.prototxt:3:1: expected '}' before the end of the file")
        XCTAssertEqual(parseError("name: \"abc\n"), "net.prototxt:1:7: unterminated string")
        XCTAssertEqual(parseError("layer { name: }"), "net.prototxt:1:15: expected a value for 'name', found '}'")
        XCTAssertEqual(parseError("input_dim: [1, 2 3]"), "net.prototxt:1:18: expected ',' or ']' in a list, found '3'")
        XCTAssertEqual(parseError("}"), "net.prototxt:1:1: expected a field name, found '}'")
        XCTAssertEqual(parseError(String(repeating: "a {", count: 70)), "net.prototxt:1:193: messages nested more than 64 deep")
        // Comments, lists, angle brackets, adjacent strings, exponents, semicolons.
        XCTAssertNil(parseError("# c\nname: 'a' \"b\" # c\ninput_dim: [1, 2]; layer < name: \"x\" > pad: -1.5e-3, k: inf\n"))
    }

    func testPrototxtValueErrorsAreLocated() throws {
        let path = NSTemporaryDirectory() + "/srtool-value-\(getpid()).prototxt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "name: \"n\"\nlayer {\n  name: \"p\"\n  type: \"Pooling\"\n  pooling_param { pool: SUM }\n}\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CaffeImporter.parse(prototxt: path, limits: .default)) { e in
            XCTAssertTrue("\(e)".hasPrefix("srtool-value-\(getpid()).prototxt:5:3: invalid value for 'pooling_param'"), "\(e)")
        }
    }

    func testSniffing() throws {
        let v2 = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("caffe/vggface_mini_v2/vggface_mini_v2.caffemodel")))
        let v1 = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("caffe/vggface_mini_v1/vggface_mini_v1.caffemodel")))
        let onnx = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("onnx/conv_basic/model.onnx")))
        XCTAssertTrue(CaffeImporter.sniffBinary(v2.prefix(4096)))
        XCTAssertTrue(CaffeImporter.sniffBinary(v1.prefix(4096)))
        XCTAssertFalse(CaffeImporter.sniffBinary(onnx.prefix(4096)))
        XCTAssertFalse(CaffeImporter.sniffBinary(Data("layer { }".utf8)))
        XCTAssertTrue(CaffeImporter.sniffText(Data("# VGG\n\nname: \"VGG\"\ninput: \"data\"".utf8)))
        XCTAssertTrue(CaffeImporter.sniffText(Data("layers {\n".utf8)))
        XCTAssertFalse(CaffeImporter.sniffText(Data("hello world".utf8)))
        XCTAssertFalse(CaffeImporter.sniffText(v2.prefix(4096)))
    }

    /// Every truncation and every single-byte corruption of a caffemodel is either read or
    /// refused with an SRError, never a crash.
    func testCorruptCaffemodelsAreRefusedCleanly() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("caffe/train_net/train_net.caffemodel")))
        let path = NSTemporaryDirectory() + "/srtool-corrupt-\(getpid()).caffemodel"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var refused = 0, read = 0
        var variants: [Data] = stride(from: 0, to: good.count, by: 97).map { good.prefix($0) }
        for i in stride(from: 0, to: min(good.count, 3000), by: 7) {
            var d = good
            d[i] ^= 0xff
            variants.append(d)
        }
        for d in variants {
            try d.write(to: URL(fileURLWithPath: path))
            do {
                _ = try CaffeModelFile(path: path, limits: .default)
                read += 1
            } catch is SRError {
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 10)
        XCTAssertGreaterThan(read, 0)
    }

    /// Text `round_mode: FLOOR` is honoured; a caffemodel alone that sets field 13 is refused
    /// (upstream round_mode and the forks' ceil_mode have opposite meanings).
    func testPoolingRoundMode() throws {
        let dir = try temporaryFolder("round")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = """
        name: "r"
        input: "data"
        input_dim: 1 input_dim: 1 input_dim: 10 input_dim: 10
        layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
                pooling_param { pool: MAX kernel_size: 3 stride: 3 round_mode: FLOOR } }
        """
        try text.write(toFile: dir + "/deploy.prototxt", atomically: true, encoding: .utf8)
        let net = try Caffe_NetParameter(textFormatString: text)
        let bytes: Data = try net.serializedBytes()
        try bytes.write(to: URL(fileURLWithPath: dir + "/r.caffemodel"))
        let g = try ModelLoader.load(path: dir + "/r.caffemodel").graph
        XCTAssertEqual(try g.inferShapes()[g.outputs[0]], [1, 1, 3, 3])
        try FileManager.default.removeItem(atPath: dir + "/deploy.prototxt")
        XCTAssertThrowsError(try ModelLoader.load(path: dir + "/r.caffemodel")) { e in
            XCTAssertTrue("\(e)".contains("pooling_param field 13 is set"), "\(e)")
        }
        // The forks' `ceil_mode` (DenseNet deploy prototxts): false = FLOOR, true = CEIL.
        for (flag, side) in [("false", 3), ("true", 4)] {
            let fork = text.replacingOccurrences(of: "round_mode: FLOOR", with: "ceil_mode: \(flag)")
            try fork.write(toFile: dir + "/deploy.prototxt", atomically: true, encoding: .utf8)
            let f = try ModelLoader.load(path: dir + "/deploy.prototxt").graph
            XCTAssertEqual(try f.inferShapes()[f.outputs[0]], [1, 1, side, side], "ceil_mode: \(flag)")
        }
    }

    /// A MemoryData layer declares the input shape in `memory_data_param` (cropped by
    /// `transform_param.crop_size`); several prototxts beside a caffemodel: the one with its stem.
    func testMemoryDataShapeAndSameStemPrototxt() throws {
        let dir = try temporaryFolder("stem")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func net(_ side: Int) -> String {
            """
            name: "m"
            layer { name: "data" type: "MemoryData" top: "data" top: "label"
                    memory_data_param { batch_size: 2 channels: 3 height: \(side + 8) width: \(side + 8) }
                    transform_param { crop_size: \(side) } }
            layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
                    pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
            """
        }
        try net(8).write(toFile: dir + "/age_net.prototxt", atomically: true, encoding: .utf8)
        try net(12).write(toFile: dir + "/gender_net.prototxt", atomically: true, encoding: .utf8)
        // The weights file (nothing to weigh) without memory_data_param, which srtool's
        // compiled schema leaves out.
        let bare = "name: \"m\" layer { name: \"pool\" type: \"Pooling\" bottom: \"data\" top: \"pool\" }"
        let bytes: Data = try Caffe_NetParameter(textFormatString: bare).serializedBytes()
        try bytes.write(to: URL(fileURLWithPath: dir + "/gender_net.caffemodel"))
        let g = try ModelLoader.load(path: dir + "/gender_net.caffemodel").graph
        XCTAssertEqual(g.inputs.map(\.shape), [[2, 3, 12, 12]])
        XCTAssertEqual(try g.inferShapes()[g.outputs[0]], [2, 3, 6, 6])
        XCTAssertEqual(CaffeImporter.stem("VGG_FACE_deploy.prototxt"), CaffeImporter.stem("VGG_FACE.caffemodel"))
    }

    /// An ImageData layer's input shape from `image_data_param` and `transform_param`
    /// (Fixtures/caffe/data_layers, Tools/make_caffe_data_fixtures.py): V2 and V1, crop,
    /// gray, and one whose shape depends on its images, which needs --input-shape.
    func testImageDataShapes() throws {
        struct Manifest: Decodable {
            struct Case: Decodable { var input_shape: [Int]?; var output_shape: [Int]?; var error: String? }
            var cases: [String: Case]
        }
        let folder = Fixtures.path("caffe/data_layers")
        let m = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
        XCTAssertEqual(m.cases.count, 4)
        for (name, want) in m.cases.sorted(by: { $0.key < $1.key }) {
            let path = folder + "/" + name
            if let error = want.error {
                XCTAssertThrowsError(try ModelLoader.load(path: path), name) { e in XCTAssertEqual("\(e)", error, name) }
                let g = try ModelLoader.load(path: path, options: ModelOptions(inputShape: [1, 3, 8, 8])).graph
                XCTAssertEqual(g.inputs.map(\.shape), [[1, 3, 8, 8]], name)
                continue
            }
            let g = try ModelLoader.load(path: path).graph
            XCTAssertEqual(g.inputs.map(\.name), ["data"], name)
            XCTAssertEqual(g.inputs.map(\.shape), [try XCTUnwrap(want.input_shape)], name)
            XCTAssertEqual(try g.inferShapes()[g.outputs[0]], want.output_shape, name)
        }
    }

    /// Caffe would output −FLT_MAX (max) or divide by zero (average) for a window that
    /// starts outside an unpadded input; srtool refuses.
    func testPoolingWindowOutsideInputIsRefused() throws {
        let dir = try temporaryFolder("outside")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = """
        input: "data"
        input_shape { dim: 1 dim: 1 dim: 10 dim: 10 }
        layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: AVE kernel_size: 2 stride: 5 } }
        """
        try text.write(toFile: dir + "/deploy.prototxt", atomically: true, encoding: .utf8)
        let bytes: Data = try Caffe_NetParameter(textFormatString: text).serializedBytes()
        try bytes.write(to: URL(fileURLWithPath: dir + "/w.caffemodel"))
        XCTAssertThrowsError(try ModelLoader.load(path: dir + "/deploy.prototxt")) { e in
            XCTAssertEqual("\(e)", "layer 'pool' (Pooling): Caffe's last window on axis H starts outside the input (size 10, kernel 2, stride 5); its output there is undefined")
        }
    }

    /// Fields outside the schema: ignored with a located notice at the layer level,
    /// refused inside a supported layer's parameters.
    func testUnknownLayerFieldsAreReported() throws {
        let dir = try temporaryFolder("unknown")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = """
        input: "data"
        input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }
        layer { name: "relu" type: "ReLU" bottom: "data" top: "relu"
          quantize_param { bits: 8 } }
        """
        try text.write(toFile: dir + "/deploy.prototxt", atomically: true, encoding: .utf8)
        try Data([0x0a, 0x01, 0x61, 0x12, 0x00]).write(to: URL(fileURLWithPath: dir + "/w.caffemodel"))
        let loaded = try ModelLoader.load(path: dir + "/deploy.prototxt")
        XCTAssertEqual(loaded.graph.nodes.count, 1)
        XCTAssertEqual(loaded.notices.last, "deploy.prototxt:4:3: layer 'relu': ignoring field 'quantize_param' that Caffe's schema does not have")
    }
}
