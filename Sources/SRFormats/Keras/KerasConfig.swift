import Foundation
import SRCore

/// A Keras model architecture (`model_config` of an .h5, `config.json` of a .keras, or
/// `model.to_json()`), Keras 2 or 3: layers with their calls (a shared layer is called
/// more than once), the model's inputs and outputs.
struct KerasConfig {
    /// One call of a layer on its inputs (Keras' "inbound node").
    struct Call {
        var inputs: [TensorRef]
        /// Numbers among the arguments: a keras.ops node's scalar operand (`x + 3`).
        var numbers: [Float] = []
        /// The first argument is a number (`3 - x`).
        var numberFirst = false
        /// A Keras 2 SlicingOpLambda's `slice_spec`: per axis from the batch axis,
        /// `{"start", "stop", "step"}`.
        var sliceSpec: [Any]? = nil
    }
    /// Output `tensor` of call `node` of layer `layer`.
    struct TensorRef: Hashable {
        var layer: String
        var node: Int
        var tensor: Int
    }
    struct Layer {
        var className: String
        var name: String
        var config: [String: Any]
        var calls: [Call]
        /// The Sequential model (used as a layer) this layer came from: its weights are
        /// stored under that model.
        var parent: String? = nil
    }
    /// The model's own layers in order, nested Sequential models as one entry (class
    /// "Sequential") before they were expanded: the order Keras 3 numbers saved layers in.
    var savedOrder: [(className: String, name: String)] = []

    /// Written by Keras 2 (inbound nodes as lists, an input's `batch_input_shape`).
    var keras2 = false
    var name: String
    var layers: [Layer]
    var inputs: [TensorRef]
    var outputs: [TensorRef]

    static func parse(json data: Data, source: String) throws -> KerasConfig {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SRError.malformed("\(source): the model config is not a JSON object")
        }
        return try parse(root, source: source)
    }

    static func parse(_ root: [String: Any], source: String) throws -> KerasConfig {
        guard let className = root["class_name"] as? String else {
            throw SRError.malformed("\(source): the model config has no class_name")
        }
        // Keras 2's oldest Sequential configs are a bare list of layers.
        let config = root["config"] as? [String: Any] ?? ["layers": root["config"] as? [Any] ?? []]
        let name = config["name"] as? String ?? "model"
        guard let rawLayers = config["layers"] as? [[String: Any]] else {
            throw SRError.malformed("\(source): the model config has no layer list")
        }
        switch className {
        case "Sequential":
            return try sequential(rawLayers, name: name, config: config, source: source)
        case "Functional", "Model":
            return try functional(rawLayers, name: name, config: config, source: source)
        default:
            throw SRError.unsupported("\(source): a '\(className)' model; srtool reads Sequential and functional models")
        }
    }

    private static func layerName(_ raw: [String: Any]) -> String? {
        raw["name"] as? String ?? (raw["config"] as? [String: Any])?["name"] as? String
    }

    /// A Sequential model: each layer called once on the previous one's output; the input
    /// is an InputLayer or the first layer's `batch_input_shape`.
    private static func sequential(_ raw: [[String: Any]], name: String, config: [String: Any], source: String) throws -> KerasConfig {
        var layers: [Layer] = []
        var previous: TensorRef?
        for (i, r) in raw.enumerated() {
            guard let cls = r["class_name"] as? String, var cfg = r["config"] as? [String: Any] else {
                throw SRError.malformed("\(source): layer \(i) has no class_name or config")
            }
            let lname = layerName(r) ?? "layer_\(i)"
            if previous == nil && cls != "InputLayer" {
                // Keras 2: the first layer carries the input shape.
                let shape = cfg["batch_input_shape"] ?? cfg["batch_shape"] ?? config["build_input_shape"]
                guard let shape else {
                    throw SRError.usage("\(source): the Sequential model declares no input shape: give --input-shape")
                }
                let input = "\(lname)_input"
                layers.append(Layer(className: "InputLayer", name: input, config: ["batch_shape": shape], calls: []))
                previous = TensorRef(layer: input, node: 0, tensor: 0)
            }
            cfg["name"] = lname
            let calls = previous.map { [Call(inputs: [$0])] } ?? []
            layers.append(Layer(className: cls, name: lname, config: cfg, calls: calls))
            previous = TensorRef(layer: lname, node: 0, tensor: 0)
        }
        guard let first = layers.first, let last = previous else { throw SRError.malformed("\(source): the model has no layers") }
        var model = KerasConfig(name: name, layers: layers, inputs: [TensorRef(layer: first.name, node: 0, tensor: 0)], outputs: [last])
        model.keras2 = (raw.first?["config"] as? [String: Any])?["batch_input_shape"] != nil
        return model
    }

    private static func functional(_ raw: [[String: Any]], name: String, config: [String: Any], source: String) throws -> KerasConfig {
        var layers: [Layer] = []
        var keras2 = false
        for (i, r) in raw.enumerated() {
            guard let rawClass = r["class_name"] as? String, let cfg = r["config"] as? [String: Any], let lname = layerName(r) else {
                throw SRError.malformed("\(source): layer \(i) has no class_name, config or name")
            }
            let nodes = r["inbound_nodes"] as? [Any] ?? []
            keras2 = keras2 || nodes.contains { $0 is [Any] }
            let calls = try nodes.map { try call($0, layer: lname, className: className(rawClass), source: source) }
            layers.append(Layer(className: className(rawClass), name: lname, config: cfg, calls: calls))
        }
        var model = KerasConfig(name: name, layers: layers,
                                inputs: try refs(config["input_layers"], what: "input_layers", source: source),
                                outputs: try refs(config["output_layers"], what: "output_layers", source: source))
        model.keras2 = keras2
        if keras2 { model.skipConstructionNodes() }
        model.savedOrder = layers.map { ($0.className, $0.name) }
        try model.expandNestedSequentials(source: source)
        return model
    }

    /// Keras 2 registers a custom layer as `package>Class` (`Custom>CustomScaleLayer`).
    private static func className(_ raw: String) -> String {
        raw.split(separator: ">").last.map(String.init) ?? raw
    }

    /// Keras 2 numbers a nested model's calls from 1 when the model has an InputLayer: its
    /// node 0 is its own construction, which the config does not list
    /// (`_should_skip_first_node` in tf_keras' functional.py).
    private mutating func skipConstructionNodes() {
        let nested = Set(layers.filter { l in
            ["Sequential", "Functional", "Model"].contains(l.className)
                && ((l.config["layers"] as? [[String: Any]])?.first?["class_name"] as? String) == "InputLayer"
        }.map(\.name))
        guard !nested.isEmpty else { return }
        func shift(_ r: TensorRef) -> TensorRef {
            nested.contains(r.layer) && r.node > 0 ? TensorRef(layer: r.layer, node: r.node - 1, tensor: r.tensor) : r
        }
        for i in layers.indices {
            for k in layers[i].calls.indices { layers[i].calls[k].inputs = layers[i].calls[k].inputs.map(shift) }
        }
        outputs = outputs.map(shift)
    }

    /// Each layer of a nested Sequential model → that model's name.
    var parents: [String: String] {
        Dictionary(layers.compactMap { l in l.parent.map { (l.name, $0) } }, uniquingKeysWith: { a, _ in a })
    }

    /// A Sequential model used as a layer (keras.applications' ConvNeXt stem and
    /// downsampling blocks), called once: its layers in its place, each called on the
    /// previous one's output (the first on the Sequential's input), then an Identity under
    /// the Sequential's own name, so its output keeps the name its readers and users know.
    private mutating func expandNestedSequentials(source: String) throws {
        var expanded: [Layer] = []
        for l in layers {
            guard l.className == "Sequential" else { expanded.append(l); continue }
            guard l.calls.count == 1, let raw = l.config["layers"] as? [[String: Any]] else {
                throw SRError.unsupported("\(source): nested model '\(l.name)' is called \(l.calls.count) times (srtool expands one call)")
            }
            let inner = try Self.sequential(raw, name: l.name, config: l.config, source: source)
            var previous = l.calls[0].inputs
            for var i in inner.layers where i.className != "InputLayer" {
                i.calls = [Call(inputs: previous)]
                i.parent = l.name
                expanded.append(i)
                previous = [TensorRef(layer: i.name, node: 0, tensor: 0)]
            }
            expanded.append(Layer(className: "Identity", name: l.name, config: [:], calls: [Call(inputs: previous)]))
        }
        layers = expanded
    }

    /// One inbound node. Keras 3: `{"args": [...keras tensors...], "kwargs": {}}`, each
    /// tensor `{"class_name": "__keras_tensor__", "config": {"keras_history": [layer,
    /// node, tensor]}}`, several inputs nested in a list. Keras 2: a list of
    /// `[layer, node, tensor, kwargs]`, or one such entry unwrapped (a TFOpLambda's, whose
    /// kwargs hold its other operand: `{"y": 3.0}` or `{"y": [layer, node, tensor]}`; a
    /// number before the tensor is `["_CONSTANT_VALUE", -1, 3.0, {"y": tensor}]`).
    private static func call(_ node: Any, layer: String, className: String, source: String) throws -> Call {
        if let k3 = node as? [String: Any] {
            var found: [TensorRef] = []
            func collect(_ v: Any) {
                if let d = v as? [String: Any] {
                    if d["class_name"] as? String == "__keras_tensor__", let c = d["config"] as? [String: Any],
                       let h = c["keras_history"] as? [Any], let ref = ref(h) {
                        found.append(ref)
                    }
                } else if let list = v as? [Any] {
                    list.forEach(collect)
                }
            }
            collect(k3["args"] ?? [])
            let numbers = (k3["args"] as? [Any] ?? []).compactMap { ($0 as? NSNumber).map(\.floatValue) }
            return Call(inputs: found, numbers: numbers, numberFirst: (k3["args"] as? [Any])?.first is NSNumber)
        }
        if let k2 = node as? [Any] {
            let entries = k2.first is String ? [k2] : k2
            var result = Call(inputs: [])
            for entry in entries {
                guard let e = entry as? [Any] else {
                    throw SRError.malformed("\(source): layer '\(layer)' has an inbound node Keras did not write")
                }
                if entries.count == 1, e.count >= 3, e[0] as? String == "_CONSTANT_VALUE", let n = e[2] as? NSNumber {
                    result.numbers.append(n.floatValue)
                    result.numberFirst = true
                } else if let r = ref(e) {
                    result.inputs.append(r)
                } else {
                    throw SRError.malformed("\(source): layer '\(layer)' has an inbound node Keras did not write")
                }
                let kwargs = e.count > 3 ? e[3] as? [String: Any] ?? [:] : [:]
                // `name`, `training` and `mask` do not change an inference result.
                for key in kwargs.keys.sorted() where !["name", "training", "mask"].contains(key) {
                    if key == "y", let n = kwargs[key] as? NSNumber {
                        result.numbers.append(n.floatValue)
                    } else if key == "y", let a = kwargs[key] as? [Any], let operand = ref(a) {
                        result.inputs.append(operand)
                    } else if key == "slice_spec", let spec = kwargs[key] {
                        result.sliceSpec = spec as? [Any] ?? [spec]
                    } else {
                        throw SRError.unsupported("\(source): layer '\(layer)' (\(className)) is called with argument '\(key)', which srtool does not read")
                    }
                }
            }
            return result
        }
        throw SRError.malformed("\(source): layer '\(layer)' has an inbound node Keras did not write")
    }

    private static func ref(_ a: [Any]) -> TensorRef? {
        guard a.count >= 3, let l = a[0] as? String, let n = a[1] as? Int, let t = a[2] as? Int, n >= 0, t >= 0 else { return nil }
        return TensorRef(layer: l, node: n, tensor: t)
    }

    /// `input_layers`/`output_layers`: `[name, node, tensor]` (Keras 3, one tensor) or a
    /// list of them.
    private static func refs(_ v: Any?, what: String, source: String) throws -> [TensorRef] {
        guard let list = v as? [Any] else { throw SRError.malformed("\(source): the model config has no \(what)") }
        if let single = ref(list) { return [single] }
        let refs = list.compactMap { ($0 as? [Any]).flatMap(ref) }
        guard !refs.isEmpty, refs.count == list.count else { throw SRError.malformed("\(source): cannot read \(what)") }
        return refs
    }
}
