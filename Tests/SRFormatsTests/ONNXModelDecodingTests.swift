import Foundation
import SRCore
@testable import SRFormats
import SRRuntime
import SRTestSupport
import XCTest

/// The ONNX import's decoding one initializer at a time (`ONNXModelDecoding`) and its
/// dropping of consumed weights (`ONNXGraphBuilder.lowered`): the same model, the same graph.
final class ONNXModelDecodingTests: XCTestCase {
    private func file(_ name: String, _ bytes: Data) throws -> String {
        let path = NSTemporaryDirectory() + "/srtool-decoding-\(name)-\(getpid()).onnx"
        try bytes.write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    private func floats(_ name: String, _ dims: [Int64], _ rng: inout Seeded) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims
        t.dataType = 1
        let values = (0..<Int(dims.reduce(1, *))).map { _ in Float.random(in: -1...1, using: &rng) }
        t.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
        return t
    }

    private func node(_ op: String, _ inputs: [String], _ output: String) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        n.output = [output]
        n.name = output
        return n
    }

    private func value(_ name: String, _ dims: [Int64]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = 1
        t.shape.dim = dims.map { d in var dim = Onnx_TensorShapeProto.Dimension(); dim.dimValue = d; return dim }
        v.type.tensorType = t
        return v
    }

    /// x [2, 4] → MatMul W → Add B → Relu → MatMul Wi, Wi = Identity(W) (folded: W's tensor
    /// under a second name, read after both of W's readers are lowered and W is dropped);
    /// `copied`, the same with the last MatMul given its own initializer W2.
    private func model(copied: Bool) -> Onnx_ModelProto {
        var rng = Seeded(state: 5)
        let w = floats("W", [4, 4], &rng), b = floats("B", [4], &rng)
        var g = Onnx_GraphProto()
        g.name = "g"
        g.input = [value("x", [2, 4])]
        g.output = [value("y", [2, 4])]
        g.initializer = [w, b]
        g.node = [node("MatMul", ["x", "W"], "h"), node("Add", ["h", "B"], "a"), node("Relu", ["a"], "r")]
        if copied {
            var w2 = w
            w2.name = "W2"
            g.initializer.append(w2)
            g.node.append(node("MatMul", ["r", "W2"], "y"))
        } else {
            g.node += [node("Identity", ["W"], "Wi"), node("MatMul", ["r", "Wi"], "y")]
        }
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        m.opsetImport = [opset]
        m.producerName = "srtool tests"
        m.graph = g
        var p = Onnx_StringStringEntryProto()
        p.key = "note"
        p.value = "after the graph"
        m.metadataProps = [p]
        return m
    }

    /// Decoded from the map initializer by initializer, the model equals the whole decode: as
    /// written, with a second graph field (protobuf merges the two: decoded whole), and cut
    /// short (the same error).
    func testDecodingInitializerByInitializerEqualsTheWholeDecode() throws {
        let options = ONNXModelDecoding.options
        let bytes: Data = try model(copied: false).serializedBytes()
        var extra = Onnx_ModelProto()
        var second = Onnx_GraphProto()
        second.name = "merged"
        second.node = [node("Relu", ["y"], "z")]
        extra.graph = second
        let twice = bytes + (try extra.serializedBytes() as Data)
        for (name, data) in [("plain", bytes), ("two-graphs", twice)] {
            let got = try ONNXModelDecoding.decode(MappedFile(path: file(name, data))).model
            let want = try Onnx_ModelProto(serializedBytes: data, options: options)
            XCTAssertEqual(got, want, name)
            XCTAssertEqual(got.graph.initializer.map { $0.name }, want.graph.initializer.map { $0.name }, name)
        }
        XCTAssertEqual(try ONNXModelDecoding.decode(MappedFile(path: file("two-graphs", twice))).model.graph.name,
                       "merged")
        let cut = try file("cut", bytes.prefix(bytes.count - 7))
        XCTAssertThrowsError(try ONNXModelDecoding.decode(MappedFile(path: cut)))
        XCTAssertThrowsError(try ONNXImporter.load(path: cut)) { error in
            XCTAssertTrue("\(error)".contains("not a valid ONNX model"), "\(error)")
        }
    }

    /// Large raw_data (64 KiB and more) stays in the file: the decoded initializer lacks it,
    /// the range handed back holds exactly its bytes, and the import reads it from there —
    /// float data by `pread`, float64 data out of the map — into a graph whose outputs are
    /// those of the model decoded whole, bit for bit. x [2, 64] → MatMul W [64, 300] (float,
    /// 76,800 bytes) → MatMul D [300, 64] (float64, 153,600 bytes) → y; B [64] stays small.
    func testLargeRawDataIsReadFromTheFile() throws {
        var rng = Seeded(state: 9)
        let w = floats("W", [64, 300], &rng), b = floats("B", [64], &rng)
        var d = Onnx_TensorProto()
        d.name = "D"
        d.dims = [300, 64]
        d.dataType = 11
        let doubles = (0..<(300 * 64)).map { _ in Double.random(in: -1...1, using: &rng) }
        d.rawData = doubles.withUnsafeBufferPointer { Data(buffer: $0) }
        var g = Onnx_GraphProto()
        g.name = "g"
        g.input = [value("x", [2, 64])]
        g.output = [value("y", [2, 64])]
        g.initializer = [w, d, b]
        g.node = [node("MatMul", ["x", "W"], "h"), node("MatMul", ["h", "D"], "m"), node("Add", ["m", "B"], "y")]
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        m.opsetImport = [opset]
        m.graph = g
        let bytes: Data = try m.serializedBytes()
        let path = try file("large", bytes)
        let mapped = try MappedFile(path: path)
        let (decoded, raw) = try ONNXModelDecoding.decode(mapped)
        XCTAssertEqual(raw.keys.sorted(), [0, 1], "W and D left in the file, B decoded")
        for (i, t) in [w, d].enumerated() {
            let range = try XCTUnwrap(raw[i])
            XCTAssertEqual(Data(mapped.bytes[range]), t.rawData, t.name)
            var stripped = t
            stripped.rawData = Data()
            XCTAssertEqual(decoded.graph.initializer[i], stripped, t.name)
        }
        XCTAssertEqual(decoded.graph.initializer[2], b)
        let x = try Tensor(shape: [2, 64], values: (0..<128).map { Float($0) / 64 - 1 })
        var whole = try Onnx_ModelProto(serializedBytes: bytes, options: ONNXModelDecoding.options)
        let reference = try ONNXImporter.load(model: &whole, directory: URL(fileURLWithPath: NSTemporaryDirectory()),
                                              name: "whole")
        let want = try Executor(graph: reference, threads: 1).outputs(x)[0]
        let got = try Executor(graph: try ONNXImporter.load(path: path), threads: 1).outputs(x)[0]
        XCTAssertEqual(got.values.map(\.bitPattern), want.values.map(\.bitPattern))
        XCTAssertTrue(want.values.contains { $0 != 0 })
    }

    /// A weight whose readers are all lowered is dropped from the builder's constants, and
    /// its folded Identity still reaches the MatMul that reads it later: the output equals
    /// that of the same model with the weight given twice.
    func testConsumedWeightsAreDroppedAndFoldedCopiesStillRead() throws {
        var folded = model(copied: false)
        let builder = try ONNXGraphBuilder(model: &folded, directory: URL(fileURLWithPath: NSTemporaryDirectory()),
                                           inputShape: nil, limits: .default)
        XCTAssertNotNil(builder.constants["W"])
        XCTAssertNotNil(builder.constants["B"])
        _ = try builder.build()
        XCTAssertNil(builder.constants["W"], "W's readers are lowered")
        XCTAssertNil(builder.constants["B"], "B's reader is lowered")
        let x = try Tensor(shape: [2, 4], values: (0..<8).map { Float($0) * 0.25 - 1 })
        var outputs: [[Float]] = []
        for copied in [false, true] {
            let path = try file(copied ? "copied" : "folded", try model(copied: copied).serializedBytes())
            let graph = try ONNXImporter.load(path: path)
            outputs.append(try Executor(graph: graph, threads: 1).outputs(x)[0].values)
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertTrue(outputs[0].contains { $0 != 0 })
    }
}
