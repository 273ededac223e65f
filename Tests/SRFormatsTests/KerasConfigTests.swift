import Foundation
@testable import SRFormats
import SRCore
import XCTest

/// The Keras architecture JSON in the forms Keras 2 and 3 write.
final class KerasConfigTests: XCTestCase {
    func parse(_ json: String) throws -> KerasConfig {
        try KerasConfig.parse(json: Data(json.utf8), source: "test")
    }

    typealias Ref = KerasConfig.TensorRef

    /// Keras 2 Sequential: no InputLayer, the first layer carries `batch_input_shape`.
    func testKeras2SequentialWithoutInputLayer() throws {
        let c = try parse("""
        {"class_name": "Sequential", "config": {"name": "s", "layers": [
          {"class_name": "Conv2D", "config": {"name": "c", "batch_input_shape": [null, 8, 8, 3], "filters": 2}},
          {"class_name": "Flatten", "config": {"name": "f"}}]}}
        """)
        XCTAssertEqual(c.layers.map(\.name), ["c_input", "c", "f"])
        XCTAssertEqual(c.layers[0].className, "InputLayer")
        XCTAssertEqual(c.layers[2].calls.map(\.inputs), [[Ref(layer: "c", node: 0, tensor: 0)]])
        XCTAssertEqual(c.inputs, [Ref(layer: "c_input", node: 0, tensor: 0)])
        XCTAssertEqual(c.outputs, [Ref(layer: "f", node: 0, tensor: 0)])
    }

    /// The oldest Keras 2 Sequential config: a bare list of layers.
    func testBareLayerList() throws {
        let c = try parse("""
        {"class_name": "Sequential", "config": [
          {"class_name": "Dense", "config": {"name": "d", "batch_input_shape": [null, 4], "units": 2}}]}
        """)
        XCTAssertEqual(c.layers.map(\.name), ["d_input", "d"])
    }

    /// Keras 2 functional: inbound nodes as lists of [layer, node, tensor, kwargs]; a layer
    /// called twice has two nodes.
    func testKeras2FunctionalInboundNodes() throws {
        let c = try parse("""
        {"class_name": "Model", "config": {"name": "m", "layers": [
          {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 4, 4, 1]}, "inbound_nodes": []},
          {"class_name": "Conv2D", "name": "shared", "config": {"name": "shared"}, "inbound_nodes": [[["in", 0, 0, {}]], [["in", 0, 0, {}]]]},
          {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]}],
          "input_layers": [["in", 0, 0]], "output_layers": [["add", 0, 0]]}}
        """)
        XCTAssertEqual(c.layers[1].calls.count, 2)
        XCTAssertEqual(c.layers[2].calls[0].inputs, [Ref(layer: "shared", node: 0, tensor: 0), Ref(layer: "shared", node: 1, tensor: 0)])
        XCTAssertEqual(c.inputs, [Ref(layer: "in", node: 0, tensor: 0)])
    }

    /// Keras 2 TFOpLambda calls: one entry unwrapped, the other operand in `y` (a number or
    /// a tensor); `Custom>` before a registered class; a nested Sequential with an
    /// InputLayer called as node 1 (its node 0 is its construction).
    func testKeras2OpLambdaAndNestedModel() throws {
        let c = try parse("""
        {"class_name": "Functional", "config": {"name": "m", "layers": [
          {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 4, 4, 1]}, "inbound_nodes": []},
          {"class_name": "Sequential", "name": "stem", "config": {"name": "stem", "layers": [
             {"class_name": "InputLayer", "config": {"name": "stem_input", "batch_input_shape": [null, 4, 4, 1]}},
             {"class_name": "Conv2D", "config": {"name": "stem_conv"}}]},
           "inbound_nodes": [[["in", 0, 0, {}]]]},
          {"class_name": "TFOpLambda", "name": "tf.math.multiply", "config": {"name": "tf.math.multiply", "function": "math.multiply"},
           "inbound_nodes": [["stem", 1, 0, {"y": 0.5, "name": null}]]},
          {"class_name": "TFOpLambda", "name": "tf.__operators__.add", "config": {"name": "tf.__operators__.add", "function": "__operators__.add"},
           "inbound_nodes": [["tf.math.multiply", 0, 0, {"y": ["stem", 1, 0], "name": null}]]},
          {"class_name": "Custom>CustomScaleLayer", "name": "s", "config": {"name": "s", "scale": 0.1},
           "inbound_nodes": [[["in", 0, 0, {}], ["tf.__operators__.add", 0, 0, {}]]]}],
          "input_layers": [["in", 0, 0]], "output_layers": [["s", 0, 0]]}}
        """)
        XCTAssertTrue(c.keras2)
        let byName = Dictionary(uniqueKeysWithValues: c.layers.map { ($0.name, $0) })
        let stemOut = Ref(layer: "stem", node: 0, tensor: 0)
        XCTAssertEqual(byName["tf.math.multiply"]?.calls.map(\.inputs), [[stemOut]])
        XCTAssertEqual(byName["tf.math.multiply"]?.calls.map(\.numbers), [[0.5]])
        XCTAssertEqual(byName["tf.__operators__.add"]?.calls.map(\.inputs), [[Ref(layer: "tf.math.multiply", node: 0, tensor: 0), stemOut]])
        XCTAssertEqual(byName["s"]?.className, "CustomScaleLayer")
        XCTAssertEqual(byName["stem_conv"]?.parent, "stem")
        XCTAssertThrowsError(try parse("""
        {"class_name": "Model", "config": {"layers": [{"class_name": "TFOpLambda", "name": "t", "config": {"function": "math.reduce_sum"},
          "inbound_nodes": [["x", 0, 0, {"axis": 1}]]}], "input_layers": [], "output_layers": []}}
        """)) { XCTAssertEqual("\($0)", "test: layer 't' (TFOpLambda) is called with argument 'axis', which srtool does not read") }
    }

    /// Keras 2 `3 - x` (the number first, the tensor in `y`) and `x[:, 1:3]` (`slice_spec`).
    func testKeras2ConstantFirstAndSliceSpec() throws {
        let c = try parse("""
        {"class_name": "Functional", "config": {"name": "m", "layers": [
          {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 4, 4, 1]}, "inbound_nodes": []},
          {"class_name": "TFOpLambda", "name": "sub", "config": {"name": "sub", "function": "math.subtract"},
           "inbound_nodes": [["_CONSTANT_VALUE", -1, 3.0, {"y": ["in", 0, 0], "name": null}]]},
          {"class_name": "SlicingOpLambda", "name": "get", "config": {"name": "get", "function": "__operators__.getitem"},
           "inbound_nodes": [["sub", 0, 0, {"slice_spec": [{"start": null, "stop": null, "step": null}, {"start": 1, "stop": 3, "step": null}]}]]}],
          "input_layers": [["in", 0, 0]], "output_layers": [["get", 0, 0]]}}
        """)
        let sub = try XCTUnwrap(c.layers.first { $0.name == "sub" }?.calls.first)
        XCTAssertEqual(sub.inputs, [Ref(layer: "in", node: 0, tensor: 0)])
        XCTAssertEqual(sub.numbers, [3])
        XCTAssertTrue(sub.numberFirst)
        let get = try XCTUnwrap(c.layers.first { $0.name == "get" }?.calls.first)
        XCTAssertEqual(get.inputs, [Ref(layer: "sub", node: 0, tensor: 0)])
        XCTAssertEqual(get.sliceSpec?.count, 2)
    }

    /// Keras 3: keras tensors with `keras_history`, several inputs nested in a list, flat
    /// `input_layers` for one input.
    func testKeras3Functional() throws {
        let t = { (l: String, n: Int) in #"{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "keras_history": ["\#(l)", \#(n), 0]}}"# }
        let c = try parse("""
        {"class_name": "Functional", "config": {"name": "m", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 4]}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "d", "config": {"name": "d"}, "inbound_nodes": [{"args": [\(t("x", 0))], "kwargs": {}}]},
          {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat"},
           "inbound_nodes": [{"args": [[\(t("x", 0)), \(t("d", 0))]], "kwargs": {}}]}],
          "input_layers": ["x", 0, 0], "output_layers": ["cat", 0, 0]}}
        """)
        XCTAssertEqual(c.layers[2].calls[0].inputs, [Ref(layer: "x", node: 0, tensor: 0), Ref(layer: "d", node: 0, tensor: 0)])
        XCTAssertEqual(c.inputs, [Ref(layer: "x", node: 0, tensor: 0)])
        XCTAssertEqual(c.outputs, [Ref(layer: "cat", node: 0, tensor: 0)])
    }

    func testRefusals() {
        XCTAssertThrowsError(try parse("[1, 2]")) { XCTAssertEqual("\($0)", "test: the model config is not a JSON object") }
        XCTAssertThrowsError(try parse(#"{"class_name": "Subclassed", "config": {"layers": []}}"#)) {
            XCTAssertEqual("\($0)", "test: a 'Subclassed' model; srtool reads Sequential and functional models")
        }
        XCTAssertThrowsError(try parse(#"{"class_name": "Model", "config": {"layers": [{"class_name": "Dense", "name": "d", "config": {}, "inbound_nodes": [[["x"]]]}], "input_layers": [], "output_layers": []}}"#)) {
            XCTAssertEqual("\($0)", "test: layer 'd' has an inbound node Keras did not write")
        }
    }
}
