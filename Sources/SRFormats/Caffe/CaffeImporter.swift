import Foundation
import SRCore
import SwiftProtobuf

/// Caffe → Graph. A model is a deploy prototxt (text `NetParameter`, V1 or V2) plus weights
/// (a binary caffemodel or Caffe-HDF5); a caffemodel alone is imported from its own layers.
/// The TEST phase's layers are kept, data and loss layers dropped, weights matched by layer
/// name, and every layer lowered by `CaffeLowering.swift`.
public enum CaffeImporter {
    /// True when `head` is a binary NetParameter: every top-level field one of its fields
    /// with the right wire type, and a layer list among them or beyond the head.
    public static func sniffBinary(_ head: Data) -> Bool {
        head.withUnsafeBytes { bytes -> Bool in
            var r = ProtoWireReader(bytes, range: 0..<bytes.count)
            // NetParameter: name 1, layers 2, input 3, input_dim 4 (packed or not),
            // force_backward 5, state 6, debug_info 7, input_shape 8, layer 100.
            let lengthFields: Set<Int> = [1, 2, 3, 4, 6, 8, 100], varintFields: Set<Int> = [4, 5, 7]
            var layers = false
            while !r.atEnd {
                guard let (field, wire) = try? r.tag() else { return false }
                if wire == 2 && lengthFields.contains(field) {
                    guard let n = try? r.varint() else { return false }
                    if field == 2 || field == 100 { layers = true }
                    guard n <= UInt64(r.end - r.offset) else { return layers }
                    r.skipBytes(Int(n))
                } else if wire == 0 && varintFields.contains(field) {
                    guard (try? r.varint()) != nil else { return false }
                } else {
                    return false
                }
            }
            return layers
        }
    }

    /// True when `head` reads as a prototxt: text whose first field is one a NetParameter
    /// starts with.
    public static func sniffText(_ head: Data) -> Bool {
        guard let text = String(data: head.prefix(4096), encoding: .utf8) ?? String(data: head.prefix(4095), encoding: .utf8) else { return false }
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let word = line.prefix { $0.isLetter || $0 == "_" }
            return ["name", "layer", "layers", "input", "input_dim", "input_shape", "force_backward", "state", "debug_info"]
                .contains(String(word))
        }
        return false
    }

    /// The model and what was decided or ignored on the way (companion files found beside
    /// it, fields outside Caffe's schema).
    public static func load(path: String, format: ModelFormat, options: ModelOptions) throws -> LoadedModel {
        var notices: [String] = []
        var weights: CaffeWeights
        var prototxt: String? = options.prototxt
        var model: CaffeModelFile?
        var files: [String] = []
        var hdf5 = format == .caffeHDF5
        var parsed: (Caffe_NetParameter, Prototxt)?
        /// The deploy prototxt beside weights, unless one was given.
        func findPrototxt() throws {
            guard prototxt == nil, let found = try findBeside(path, suffixes: [".prototxt"], preferring: "deploy") else { return }
            prototxt = found
            notices.append("using deploy prototxt \(found) (found beside \((path as NSString).lastPathComponent); --prototxt overrides)")
        }
        switch format {
        case .caffemodel:
            let m = try CaffeModelFile(path: path, limits: options.limits)
            model = m
            weights = CaffeWeights(model: m)
            try findPrototxt()
            files.append(path)
        case .caffeHDF5:
            weights = try CaffeWeights(hdf5: HDF5File(path: path), limits: options.limits)
            try findPrototxt()
            guard prototxt != nil else {
                throw SRError.usage("\(path): Caffe-HDF5 weights carry no network; give its deploy prototxt with --prototxt")
            }
            files.append(path)
        case .prototxt:
            prototxt = path
            // Parsed before the weights are looked for, so a syntax error is the one message.
            parsed = try parse(prototxt: path, limits: options.limits)
            var weightsPath = options.weights
            if weightsPath == nil {
                weightsPath = try findBeside(path, suffixes: [".caffemodel", ".caffemodel.h5"], preferring: nil)
                if let w = weightsPath { notices.append("using weights \(w) (found beside \((path as NSString).lastPathComponent); --weights overrides)") }
            }
            guard let w = weightsPath else {
                throw SRError.usage("\(path): a prototxt has no weights; give the caffemodel with --weights")
            }
            switch try ModelFormat.detect(path: w) {
            case .caffemodel:
                let m = try CaffeModelFile(path: w, limits: options.limits)
                model = m
                weights = CaffeWeights(model: m)
            case .caffeHDF5:
                weights = try CaffeWeights(hdf5: HDF5File(path: w), limits: options.limits)
                hdf5 = true
            default:
                throw SRError.usage("\(w): not Caffe weights (a .caffemodel or .caffemodel.h5)")
            }
            files.append(w)
        default:
            throw SRError.internalError("CaffeImporter given a \(format) file")
        }

        var net: Caffe_NetParameter
        var layers: [Caffe_LayerParameter]
        var text: Prototxt?
        if let prototxt {
            let (n, t) = try parsed ?? parse(prototxt: prototxt, limits: options.limits)
            net = n; text = t
            layers = n.layer.isEmpty ? try n.layers.map(CaffeV1.upgrade) : n.layer
            if !n.layer.isEmpty && !n.layers.isEmpty {
                throw SRError.malformed("\(prototxt): mixes V1 'layers' and V2 'layer' entries")
            }
            files.append(prototxt)
        } else if let model {
            notices.append("no deploy prototxt beside \((path as NSString).lastPathComponent); using the caffemodel's own layers")
            net = model.net
            layers = model.layers.map(\.layer)
        } else {
            throw SRError.usage("\(path): no network description")
        }
        layers = layers.filter(CaffeNetBuilder.included)
        try CaffeSchemaAudit.check(layers: layers, text: text, fromBinary: prototxt == nil, notice: { notices.append($0) })

        let builder = CaffeNetBuilder(weights: weights, description: prototxt.map { ($0 as NSString).lastPathComponent } ?? "the caffemodel's layers",
                                      limits: options.limits)
        var inputs: [(name: String, shape: [Int]?)] = []
        for (i, name) in net.input.enumerated() {
            if i < net.inputShape.count {
                inputs.append((name, net.inputShape[i].dim.map(Int.init)))
            } else if net.inputDim.count >= 4 * (i + 1) {
                inputs.append((name, net.inputDim[(4 * i)..<(4 * i + 4)].map(Int.init)))
            } else {
                inputs.append((name, nil))
            }
        }
        // Inputs are declared as they appear (legacy net inputs first), and only those a
        // kept layer reads: a test-phase Input layer's "label" top feeds only losses.
        let isComputed = { (l: Caffe_LayerParameter) in
            l.type != "Input" && !CaffeNetBuilder.dataTypes.contains(l.type) && !CaffeNetBuilder.lossTypes.contains(l.type)
        }
        let read = Set(layers.filter(isComputed).flatMap(\.bottom))
        var declared: [GraphInput] = []
        func declare(_ name: String, _ shape: [Int]?) throws {
            guard read.contains(name) else { return }
            var s = shape
            if let override = options.inputShape { s = override }
            guard let s else { throw SRError.usage("input '\(name)' has no declared shape: give --input-shape N,C,H,W") }
            guard !s.isEmpty, s.allSatisfy({ $0 >= 1 && $0 < 1 << 31 }), let n = Shape.elementCount(s) else {
                throw SRError.malformed("input '\(name)' has shape \(s)")
            }
            try options.limits.check(elements: n, what: "input '\(name)'")
            builder.declareInput(name, shape: s)
            declared.append(GraphInput(name: name, shape: s))
        }
        for i in inputs { try declare(i.name, i.shape) }
        for l in layers {
            if l.type == "Input" {
                for (j, top) in l.top.enumerated() {
                    let shapes = l.inputParam.shape
                    let s = j < shapes.count ? shapes[j] : shapes.first
                    try declare(top, s.map { $0.dim.map(Int.init) })
                }
            } else if CaffeNetBuilder.dataTypes.contains(l.type) {
                guard let top = l.top.first else { continue }
                try declare(top, CaffeDataLayerShape.shape(of: l, text: text))
            } else if isComputed(l) {
                try builder.lower(l)
            }
        }
        if options.inputShape != nil && declared.count > 1 {
            throw SRError.usage("--input-shape given but the model has \(declared.count) inputs")
        }
        guard !declared.isEmpty else { throw SRError.malformed("\(path): the net declares no input (no input, Input layer or data layer)") }
        let outputs = builder.outputs()
        guard !outputs.isEmpty else { throw SRError.malformed("\(path): the net computes nothing from its input") }
        let classes = builder.assembler.shape(outputs[0]).map { $0.dropFirst().reduce(1, *) } ?? 0
        let isVGGFace = net.name.lowercased().replacingOccurrences(of: "_", with: "").contains("vggface") || classes == 2622
        let graph = try builder.assembler.graph(
            inputs: declared, outputs: outputs,
            metadata: GraphMetadata(sourceFormat: hdf5 ? "caffe-hdf5" : "caffe",
                                    sourceFiles: files.map { ($0 as NSString).lastPathComponent },
                                    preprocess: isVGGFace ? "vggface" : "caffe"))
        return LoadedModel(graph: graph, notices: notices)
    }

    /// The prototxt as a NetParameter, with syntax errors located.
    static func parse(prototxt path: String, limits: ImportLimits) throws -> (Caffe_NetParameter, Prototxt) {
        let data = try InputFile.read(path)
        guard data.count < 256 << 20 else { throw SRError.malformed("\(path): a prototxt of \(data.count) bytes") }
        guard let string = String(data: data, encoding: .utf8) else { throw SRError.malformed("\(path): not UTF-8 text") }
        let tree = try Prototxt(path: path, text: string)
        var options = TextFormatDecodingOptions()
        options.ignoreUnknownFields = true
        options.messageDepthLimit = 64
        do {
            var net = try Caffe_NetParameter(textFormatString: string, options: options)
            try CaffeForkFields.apply(to: &net, text: tree)
            return (net, tree)
        } catch let error as SRError {
            throw error
        } catch {
            // Find the field whose value the schema refused, one or two levels down.
            for f in tree.fields where (try? Caffe_NetParameter(textFormatString: String(tree.source(f)), options: options)) == nil {
                for c in f.children ?? [] where (try? Caffe_NetParameter(textFormatString: "\(f.name) { \(tree.source(c)) }", options: options)) == nil {
                    throw SRError.malformed("\(tree.position(c)): invalid value for '\(c.name)' (\(error))")
                }
                throw SRError.malformed("\(tree.position(f)): invalid value for '\(f.name)' (\(error))")
            }
            throw SRError.malformed("\(path): not a valid prototxt (\(error))")
        }
    }

    /// A companion file in the same folder: with `preferring`, a name containing it wins;
    /// otherwise the only file with one of the suffixes. Several candidates are an error.
    /// Same-stem files win first (`densenet121.caffemodel` ↔ `densenet121.prototxt` or
    /// `densenet121_deploy.prototxt`).
    static func findBeside(_ path: String, suffixes: [String], preferring: String?) throws -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        let dir = folder.isEmpty ? "." : folder
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        func full(_ n: String) -> String { folder.isEmpty ? n : (folder as NSString).appendingPathComponent(n) }
        let option = preferring == nil ? "--weights" : "--prototxt"
        let own = (path as NSString).lastPathComponent
        for suffix in suffixes {
            // ".caffemodel" must not match "x.caffemodel.h5"; suffixes are tried in order.
            let candidates = names.filter { $0.hasSuffix(suffix) && $0 != own }
            let sameStem = candidates.filter { stem($0) == stem(own) }
            if sameStem.count == 1 { return full(sameStem[0]) }
            if let preferring {
                let preferred = candidates.filter { $0.lowercased().contains(preferring) }
                if preferred.count == 1 { return full(preferred[0]) }
                if preferred.count > 1 {
                    throw SRError.usage("several \(preferring) files beside \(own): \(preferred.joined(separator: ", ")); choose one with \(option)")
                }
            }
            if candidates.count == 1 { return full(candidates[0]) }
            if candidates.count > 1 {
                throw SRError.usage("several *\(suffix) files beside \(own): \(candidates.joined(separator: ", ")); choose one with \(option)")
            }
        }
        return nil
    }

    /// A model file's name without its format suffix and without a "deploy" part:
    /// "VGG_FACE_deploy.prototxt" and "VGG_FACE.caffemodel" → "vgg_face".
    static func stem(_ name: String) -> String {
        var s = name.lowercased()
        for suffix in [".caffemodel.h5", ".caffemodel", ".prototxt", ".h5"] where s.hasSuffix(suffix) {
            s.removeLast(suffix.count)
            break
        }
        for part in ["_deploy", "-deploy", ".deploy", "deploy_", "deploy-", "deploy."] {
            s = s.replacingOccurrences(of: part, with: "")
        }
        return s
    }
}
