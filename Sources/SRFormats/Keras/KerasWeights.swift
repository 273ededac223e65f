import Foundation
import SRCore

/// A Keras model's weights in an HDF5 file, per layer in Keras' order (kernel, bias; BN
/// gamma, beta, moving mean, moving variance): the legacy layout (`<root>/<layer>` groups
/// whose `weight_names` attribute lists dataset paths inside the group) or Keras 3's
/// (`layers/<saved name>/vars/<i>`, the layer's own name in the `vars` group's `name`
/// attribute, else Keras' snake-case class name numbered in layer order).
final class KerasWeights {
    let file: HDF5File
    let fileName: String
    private let lookup: (String) throws -> [String]?

    /// `root`: the legacy group holding the layer groups ("model_weights", or "" for a
    /// weights-only file).
    /// A layer of a nested Sequential model (`parents`) is stored in that model's group,
    /// its weight names prefixed `<model>/<layer>/` (Keras 3) or `<layer>/` (Keras 2).
    init(legacy file: HDF5File, root: String, parents: [String: String] = [:]) {
        self.file = file
        fileName = (file.path as NSString).lastPathComponent
        lookup = { layer in
            let owner = parents[layer] ?? layer
            let group = root.isEmpty ? owner : "\(root)/\(owner)"
            guard try file.isGroup(group) else { return nil }
            let names = try file.stringsAttribute("weight_names", of: group) ?? []
            let own = parents[layer] == nil ? names : names.filter { $0.hasPrefix("\(owner)/\(layer)/") || $0.hasPrefix("\(layer)/") }
            return own.isEmpty && parents[layer] != nil ? nil : own.map { "\(group)/\($0)" }
        }
    }

    init(keras3 file: HDF5File, config: KerasConfig) throws {
        self.file = file
        fileName = (file.label as NSString).lastPathComponent
        var saved: [String: String] = [:]
        let members = try file.isGroup("layers") ? try file.members("layers") : []
        for m in members {
            if let name = try file.stringsAttribute("name", of: "layers/\(m)/vars")?.first { saved[name] = "layers/\(m)/vars" }
            // A nested model's layers one level down.
            guard try file.isGroup("layers/\(m)/layers") else { continue }
            for c in try file.members("layers/\(m)/layers") {
                let vars = "layers/\(m)/layers/\(c)/vars"
                if let name = try file.stringsAttribute("name", of: vars)?.first { saved[name] = vars }
            }
        }
        do {
            // Layers whose vars carry no name: Keras' own naming, snake_case(class name),
            // numbered per class in layer order; a nested Sequential's layers the same way
            // inside `layers/sequential[_k]/layers`.
            func number(_ layers: [(className: String, name: String)], under prefix: String) throws {
                var seen: [String: Int] = [:]
                for l in layers where !(l.className == "InputLayer" && !members.contains("input_layer")) {
                    let base = Self.snakeCase(l.className)
                    let k = seen[base, default: 0]
                    seen[base] = k + 1
                    let group = "\(prefix)/\(k == 0 ? base : "\(base)_\(k)")"
                    if l.className == "Sequential" {
                        try number(config.layers.filter { $0.parent == l.name }.map { ($0.className, $0.name) }, under: "\(group)/layers")
                    } else if saved[l.name] == nil, try file.isGroup("\(group)/vars") {
                        saved[l.name] = "\(group)/vars"
                    }
                }
            }
            try number(config.savedOrder.isEmpty ? config.layers.map { ($0.className, $0.name) } : config.savedOrder, under: "layers")
        }
        lookup = { layer in
            guard let vars = saved[layer] else { return nil }
            var paths: [String] = []
            while try file.datasetInfo("\(vars)/\(paths.count)") != nil { paths.append("\(vars)/\(paths.count)") }
            return paths
        }
    }

    /// Keras' `naming.to_snake_case`: "BatchNormalization" → "batch_normalization",
    /// "PReLU" → "p_re_lu", "Conv2D" → "conv2d".
    static func snakeCase(_ name: String) -> String {
        let chars = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase && i > 0 {
                let prev = chars[i - 1]
                let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase
                // (.)([A-Z][a-z]+) and ([a-z])([A-Z]) in Keras' two regular expressions.
                if nextLower || prev.isLowercase { out.append("_") }
            }
            out.append(c)
        }
        return out.lowercased()
    }

    /// The layer's weights as float32 tensors in Keras' order; nil when the file has no
    /// entry for the layer.
    func tensors(layer: String, limits: ImportLimits) throws -> [Tensor]? {
        guard let paths = try lookup(layer) else { return nil }
        return try paths.map { path in
            guard let info = try file.datasetInfo(path) else {
                throw SRError.malformed("\(fileName): weight '\(path)' of layer '\(layer)' is missing")
            }
            // Integers are read as floats (Normalization's `count`, an int64 srtool never uses).
            guard info.isFloat || info.isInteger else {
                throw SRError.malformed("\(fileName): weight '\(path)' of layer '\(layer)' is not a number")
            }
            return try file.readFloats(path, limits: limits)
        }
    }
}
