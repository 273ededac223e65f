import Foundation
import SRCore

/// Fields that Caffe forks added to deploy prototxts and that have one meaning, read into
/// upstream's fields: `pooling_param { ceil_mode: false }` (DenseNet and others, the
/// fork of Caffe with `ceil_mode`) is upstream's `round_mode: FLOOR`, `true` is `CEIL`.
/// Every other field outside the schema is still refused by `CaffeSchemaAudit`.
enum CaffeForkFields {
    /// The fork fields srtool reads, by the parameter message that holds them.
    static let known: [String: Set<String>] = ["pooling_param": ["ceil_mode"]]

    /// Sets `round_mode` of every pooling layer whose prototxt says `ceil_mode`.
    static func apply(to net: inout Caffe_NetParameter, text: Prototxt) throws {
        for f in text.fields where f.name == "layer" || f.name == "layers" {
            guard let children = f.children,
                  let nameField = children.last(where: { $0.name == "name" }) else { continue }
            let name = text.value(nameField)
            for p in children where p.name == "pooling_param" {
                for g in p.children ?? [] where g.name == "ceil_mode" {
                    let ceil: Bool
                    switch text.value(g).lowercased() {
                    case "true", "1": ceil = true
                    case "false", "0": ceil = false
                    case let other:
                        throw SRError.malformed("\(text.position(g)): layer '\(name)': ceil_mode must be true or false, not '\(other)'")
                    }
                    let mode: Caffe_PoolingParameter.RoundMode = ceil ? .ceil : .floor
                    for i in net.layer.indices where net.layer[i].name == name { net.layer[i].poolingParam.roundMode = mode }
                    for i in net.layers.indices where net.layers[i].name == name { net.layers[i].poolingParam.roundMode = mode }
                }
            }
        }
    }
}
