import Foundation
@testable import SRFormats
import SRCore
import SRRuntime
import SRTestSupport
import SwiftProtobuf
import XCTest

/// The ONNX backend node tests (written by Tools/make_onnx_node_tests.py from the `onnx`
/// wheel's generators into $SRTOOL_ONNX_NODE_TESTS) for every op srtool imports. Each test
/// must pass or be refused as unsupported (exit 69 territory); a wrong number fails.
/// Inputs srtool needs as constants (weights, shapes, pads) are bound as initializers.
final class ONNXNodeConformanceTests: XCTestCase {
    /// Per op: input indices bound as initializers (srtool reads weights, not activations).
    static let constantInputs: [String: Set<Int>] = [
        "Conv": [1, 2], "Gemm": [1, 2], "MatMul": [1], "PRelu": [1], "BatchNormalization": [1, 2, 3, 4],
        "Clip": [1, 2], "Reshape": [1], "Pad": [1, 2, 3], "Squeeze": [1], "Unsqueeze": [1], "Dropout": [1, 2], "Pow": [1],
        "ReduceMean": [1], "ReduceSum": [1], "ReduceMax": [1], "ReduceMin": [1], "Slice": [1, 2, 3, 4], "Split": [1],
        "LayerNormalization": [1, 2], "ConvTranspose": [1, 2], "Resize": [1, 2, 3], "Upsample": [1],
        "Expand": [1], "ReduceL2": [1], "RMSNormalization": [1],
    ]

    /// Fewest passing node tests per op, so support cannot silently regress.
    static let minimumPasses: [String: Int] = [
        "Conv": 6, "Gemm": 8, "MatMul": 1, "MaxPool": 11, "AveragePool": 13, "GlobalAveragePool": 2,
        "GlobalMaxPool": 2, "LRN": 2, "BatchNormalization": 2, "Relu": 1, "LeakyRelu": 3,
        "Sigmoid": 2, "Tanh": 2, "Clip": 9, "Add": 1, "Mul": 3, "Sum": 3, "Max": 4,
        "Concat": 6, "Sub": 2, "Div": 3, "Expand": 1, "ReduceL2": 6, "RMSNormalization": 13, "Flatten": 3, "Reshape": 6, "Transpose": 1, "Pad": 3, "Softmax": 6, "Dropout": 4,
        "Identity": 2, "Squeeze": 2, "Unsqueeze": 6, "Pow": 1, "ThresholdedRelu": 3,
        "Abs": 1, "Elu": 3, "Erf": 1, "Exp": 2, "Gelu": 4, "HardSigmoid": 3, "HardSwish": 1, "Log": 2, "Mish": 1,
        "Neg": 2, "Reciprocal": 2, "Selu": 3, "Softplus": 2, "Softsign": 2, "Sqrt": 2,
        "ReduceMax": 6, "ReduceMean": 6, "ReduceMin": 6, "ReduceSum": 8, "Slice": 5, "Split": 5,
    ]

    func testNodeConformance() throws {
        guard let root = ProcessInfo.processInfo.environment["SRTOOL_ONNX_NODE_TESTS"] else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                return XCTFail("CI must set SRTOOL_ONNX_NODE_TESTS (run Tools/make_onnx_node_tests.py)")
            }
            throw XCTSkip("SRTOOL_ONNX_NODE_TESTS not set; run Tools/make_onnx_node_tests.py")
        }
        let tests = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix("test_") }.sorted()
        XCTAssertGreaterThan(tests.count, 100)
        var passed: [String: [String]] = [:], refused: [String: [String]] = [:]
        for test in tests {
            let folder = URL(fileURLWithPath: root).appendingPathComponent(test)
            let (op, outcome) = try run(folder)
            switch outcome {
            case .pass: passed[op, default: []].append(test)
            case .unsupported(let why): refused[op, default: []].append("\(test): \(why)")
            case .fail(let why): XCTFail("\(test): \(why)")
            }
        }
        var report = ["op                  pass  unsupported"]
        for op in Set(passed.keys).union(refused.keys).sorted() {
            report.append(op.padding(toLength: 20, withPad: " ", startingAt: 0)
                          + String(format: "%4d  %4d", passed[op]?.count ?? 0, refused[op]?.count ?? 0))
        }
        print(report.joined(separator: "\n"))
        for (op, lines) in refused.sorted(by: { $0.key < $1.key }) { for l in lines { print("  unsupported \(op) \(l)") } }
        for (op, minimum) in Self.minimumPasses {
            XCTAssertGreaterThanOrEqual(passed[op]?.count ?? 0, minimum, "\(op) node tests passing")
        }
    }

    /// The onnx wheel's light model zoo (Tools/make_onnx_node_tests.py copies it beside the
    /// node tests) runs as shipped and gives the shipped outputs.
    func testLightModelsRunAsShipped() throws {
        guard let root = ProcessInfo.processInfo.environment["SRTOOL_ONNX_NODE_TESTS"] else {
            if ProcessInfo.processInfo.environment["CI"] != nil { return XCTFail("CI must set SRTOOL_ONNX_NODE_TESTS") }
            throw XCTSkip("SRTOOL_ONNX_NODE_TESTS not set; run Tools/make_onnx_node_tests.py")
        }
        let models = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix("light_") }.sorted()
        XCTAssertEqual(models.count, 9)
        for name in models {
            let folder = URL(fileURLWithPath: root).appendingPathComponent(name)
            let model = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: folder.appendingPathComponent("model.onnx")))
            let data = folder.appendingPathComponent("test_data_set_0")
            let input = try Onnx_TensorProto(serializedBytes: try Data(contentsOf: data.appendingPathComponent("input_0.pb")))
            let output = try Onnx_TensorProto(serializedBytes: try Data(contentsOf: data.appendingPathComponent("output_0.pb")))
            let outcome = attempt(model, inputs: [input], outputs: [output], constants: [], feedByName: true)
            if case .pass = outcome { continue }
            XCTFail("\(name): \(outcome)")
        }
    }

    enum Outcome { case pass, unsupported(String), fail(String) }

    func run(_ folder: URL) throws -> (String, Outcome) {
        let model = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: folder.appendingPathComponent("model.onnx")))
        let op = model.graph.node.first?.opType ?? "?"
        let data = folder.appendingPathComponent("test_data_set_0")
        func tensor(_ kind: String, _ i: Int) throws -> Onnx_TensorProto {
            try Onnx_TensorProto(serializedBytes: try Data(contentsOf: data.appendingPathComponent("\(kind)_\(i).pb")))
        }
        let inputs = try model.graph.input.indices.map { try tensor("input", $0) }
        let outputs = try model.graph.output.indices.map { try tensor("output", $0) }
        // First as the op table asks; then with every input but the first as a constant.
        let nodeInputs = model.graph.node.first?.input ?? []
        let wanted = Self.constantInputs[op] ?? []
        let strategies: [Set<String>] = [
            Set(nodeInputs.enumerated().filter { wanted.contains($0.offset) }.map(\.element)),
            Set(nodeInputs.dropFirst()),
        ]
        var last: Outcome = .unsupported("no strategy")
        for constants in strategies {
            last = attempt(model, inputs: inputs, outputs: outputs, constants: constants)
            if case .pass = last { return (op, last) }
        }
        return (op, last)
    }

    /// `feedByName`: `inputs` name the graph inputs they feed (the light models list their
    /// initializers as inputs too); otherwise they feed the graph inputs in order.
    func attempt(_ source: Onnx_ModelProto, inputs: [Onnx_TensorProto], outputs: [Onnx_TensorProto],
                 constants: Set<String>, feedByName: Bool = false) -> Outcome {
        var model = source
        var feeds: [String: Onnx_TensorProto] = [:]
        if feedByName {
            for t in inputs { feeds[t.name] = t }
        } else {
            for (i, vi) in source.graph.input.enumerated() {
                var t = inputs[i]
                t.name = vi.name
                if constants.contains(vi.name) { model.graph.initializer.append(t) } else { feeds[vi.name] = t }
            }
        }
        model.graph.input = source.graph.input.filter { !constants.contains($0.name) }
        do {
            let graph = try ONNXImporter.load(model: &model, directory: URL(fileURLWithPath: "/"), name: "node test")
            var values: [String: Tensor] = [:]
            for (name, proto) in feeds { values[name] = try proto.constant(modelDirectory: nil, limits: .default).floatTensor(name) }
            let acts = try Executor(graph: graph, threads: 2).run(values, keepAll: false)
            for (i, name) in graph.outputs.enumerated() where i < outputs.count {
                guard let got = acts[name] else { return .fail("output \(name) not computed") }
                let want = try outputs[i].constant(modelDirectory: nil, limits: .default).floatTensor("output")
                guard Shape.elementCount(got.shape) == Shape.elementCount(want.shape),
                      got.shape.filter({ $0 != 1 }) == want.shape.filter({ $0 != 1 }) else {
                    return .fail("output shape \(got.shape), want \(want.shape)")
                }
                // onnx's backend-test tolerances: some expected values are printed to 4 decimals.
                if let why = closeness(got.values, want.values, atol: 1e-7, rtol: 1e-3) { return .fail(why) }
            }
            return .pass
        } catch let e as SRError {
            if case .unsupported(let m) = e { return .unsupported(m) }
            return .fail("refused a valid model: \(e)")
        } catch {
            return .fail("\(error)")
        }
    }
}
