import Foundation
import SRCore

/// The state of one Keras import: which IR tensor holds each Keras tensor (a layer called
/// twice has two outputs, `name` and `name__node1`), the channels-last layout facts the
/// NCHW graph must compensate for, and the layers' weights (shared layers share them).
final class KerasGraphBuilder {
    let config: KerasConfig
    let weights: KerasWeights
    let options: ModelOptions
    let assembler: GraphAssembler
    private var tensors: [KerasConfig.TensorRef: String] = [:]
    /// IR tensors that are a Keras `Flatten` of an N×C×H×W tensor, with its [C, H, W]: Keras
    /// flattened them in H, W, C order, so the next Dense layer's rows are permuted.
    var flattenedFrom: [String: [Int]] = [:]
    private var weightNames: [String: String] = [:]
    private var loadedWeights: [String: [Tensor]] = [:]

    init(config: KerasConfig, weights: KerasWeights, options: ModelOptions) {
        self.config = config
        self.weights = weights
        self.options = options
        assembler = GraphAssembler(limits: options.limits)
    }

    func build() throws -> Graph {
        var inputs: [GraphInput] = []
        let layersByName = Dictionary(config.layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if options.inputShape != nil && config.inputs.count > 1 {
            throw SRError.usage("--input-shape given but the model has \(config.inputs.count) inputs")
        }
        for ref in config.inputs {
            guard let layer = layersByName[ref.layer], layer.className == "InputLayer" else {
                throw SRError.malformed("model input '\(ref.layer)' is not an InputLayer")
            }
            let shape = try options.inputShape ?? inputShape(layer)
            assembler.declareInput(layer.name, shape: shape)
            inputs.append(GraphInput(name: layer.name, shape: shape))
            tensors[ref] = layer.name
        }
        // Lower each call once its inputs exist (a shared layer's later call may come after
        // layers listed below it).
        var pending: [(KerasConfig.Layer, Int)] = config.layers.flatMap { l in
            l.className == "InputLayer" ? [] : l.calls.indices.map { (l, $0) }
        }
        while !pending.isEmpty {
            var rest: [(KerasConfig.Layer, Int)] = []
            for (layer, k) in pending {
                let refs = layer.calls[k].inputs
                let ins = refs.compactMap { tensors[$0] }
                if ins.count == refs.count {
                    let out = k == 0 ? layer.name : "\(layer.name)__node\(k)"
                    let call = layer.calls[k]
                    try lower(layer, inputs: ins, out: out, numbers: call.numbers, numberFirst: call.numberFirst, sliceSpec: call.sliceSpec)
                    tensors[KerasConfig.TensorRef(layer: layer.name, node: k, tensor: 0)] = out
                } else {
                    rest.append((layer, k))
                }
            }
            guard rest.count < pending.count else {
                let (layer, k) = rest[0]
                let missing = layer.calls[k].inputs.first { tensors[$0] == nil }
                throw SRError.malformed("layer '\(layer.name)': input '\(missing?.layer ?? "?")' (call \(missing?.node ?? 0), output \(missing?.tensor ?? 0)) is never computed")
            }
            pending = rest
        }
        let outputs = try config.outputs.map { ref -> String in
            guard let t = tensors[ref] else { throw SRError.malformed("model output '\(ref.layer)' is never computed") }
            if flattenedFrom[t] != nil {
                throw SRError.unsupported("model output '\(ref.layer)' is a channels-last Flatten; srtool's NCHW graph orders its values differently")
            }
            return t
        }
        return try assembler.graph(inputs: inputs, outputs: outputs,
                                   metadata: GraphMetadata(sourceFormat: "keras"))
    }

    /// `batch_shape` (Keras 3) or `batch_input_shape` (Keras 2): [None, H, W, C] → [1, C, H, W].
    private func inputShape(_ layer: KerasConfig.Layer) throws -> [Int] {
        guard let raw = (layer.config["batch_shape"] ?? layer.config["batch_input_shape"]) as? [Any] else {
            throw SRError.usage("input '\(layer.name)' declares no shape: give --input-shape")
        }
        let dims = raw.dropFirst().map { $0 as? Int }
        guard dims.allSatisfy({ $0 != nil }) else {
            throw SRError.usage("input '\(layer.name)' has an unknown dimension \(raw.map { ($0 as? Int).map(String.init) ?? "None" }): give --input-shape N,C,H,W")
        }
        let d = dims.map { $0! }
        guard d.allSatisfy({ $0 >= 1 && $0 < 1 << 31 }) else { throw SRError.malformed("input '\(layer.name)' has shape \(raw)") }
        switch d.count {
        case 3: return [1, d[2], d[0], d[1]]
        case 1: return [1, d[0]]
        default: throw SRError.unsupported("input '\(layer.name)' has \(d.count + 1) dimensions; srtool reads images (N, H, W, C) and vectors (N, D)")
        }
    }

    /// The layer's weights (read once, shared by its calls), checked for count.
    func weightTensors(_ layer: KerasConfig.Layer, count: ClosedRange<Int>) throws -> [Tensor] {
        if let w = loadedWeights[layer.name] { return w }
        guard let w = try weights.tensors(layer: layer.name, limits: options.limits), !w.isEmpty else {
            throw SRError.malformed("layer '\(layer.name)' (\(layer.className)) has no weights in \(weights.fileName)")
        }
        guard count.contains(w.count) else {
            throw SRError.malformed("layer '\(layer.name)' (\(layer.className)) has \(w.count) weight arrays in \(weights.fileName), expected \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)–\(count.upperBound)")")
        }
        loadedWeights[layer.name] = w
        return w
    }

    /// Adds a converted weight once per layer and role.
    func weight(_ layer: String, _ role: String, _ make: () throws -> Tensor) rethrows -> String {
        let key = "\(layer).\(role)"
        if let name = weightNames[key] { return name }
        let name = assembler.addWeight(try make(), name: key)
        weightNames[key] = name
        return name
    }
}
