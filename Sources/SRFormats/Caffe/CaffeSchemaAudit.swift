import Foundation
import SRCore
import SwiftProtobuf

/// Fields outside srtool's Caffe schema (forks add their own): inside the parameters of a
/// layer srtool imports they could change the math, so the import stops (exit 69);
/// anywhere else they are reported and ignored. In a prototxt each is located by line
/// and column; in a caffemodel by field number.
enum CaffeSchemaAudit {
    /// The parameter field a layer type reads, with its message type.
    static func typeParameter(_ type: String) -> (field: String, message: any SwiftProtobuf.Message.Type)? {
        switch type {
        case "Convolution": ("convolution_param", Caffe_ConvolutionParameter.self)
        case "InnerProduct": ("inner_product_param", Caffe_InnerProductParameter.self)
        case "Pooling": ("pooling_param", Caffe_PoolingParameter.self)
        case "ReLU": ("relu_param", Caffe_ReLUParameter.self)
        case "PReLU": ("prelu_param", Caffe_PReLUParameter.self)
        case "LRN": ("lrn_param", Caffe_LRNParameter.self)
        case "BatchNorm": ("batch_norm_param", Caffe_BatchNormParameter.self)
        case "Scale": ("scale_param", Caffe_ScaleParameter.self)
        case "Bias": ("bias_param", Caffe_BiasParameter.self)
        case "Eltwise": ("eltwise_param", Caffe_EltwiseParameter.self)
        case "Concat": ("concat_param", Caffe_ConcatParameter.self)
        case "Flatten": ("flatten_param", Caffe_FlattenParameter.self)
        case "Reshape": ("reshape_param", Caffe_ReshapeParameter.self)
        case "Softmax": ("softmax_param", Caffe_SoftmaxParameter.self)
        case "Power": ("power_param", Caffe_PowerParameter.self)
        case "Input": ("input_param", Caffe_InputParameter.self)
        case "Dropout": ("dropout_param", Caffe_DropoutParameter.self)
        case "Sigmoid": ("sigmoid_param", Caffe_SigmoidParameter.self)
        case "TanH": ("tanh_param", Caffe_TanHParameter.self)
        default: nil
        }
    }

    /// The decoded parameter message of a layer's own type (binary path).
    static func typeParameterMessage(_ l: Caffe_LayerParameter) -> (any SwiftProtobuf.Message)? {
        switch l.type {
        case "Convolution": l.convolutionParam
        case "InnerProduct": l.innerProductParam
        case "Pooling": l.poolingParam
        case "ReLU": l.reluParam
        case "PReLU": l.preluParam
        case "LRN": l.lrnParam
        case "BatchNorm": l.batchNormParam
        case "Scale": l.scaleParam
        case "Bias": l.biasParam
        case "Eltwise": l.eltwiseParam
        case "Concat": l.concatParam
        case "Flatten": l.flattenParam
        case "Reshape": l.reshapeParam
        case "Softmax": l.softmaxParam
        case "Power": l.powerParam
        case "Input": l.inputParam
        case "Dropout": l.dropoutParam
        case "Sigmoid": l.sigmoidParam
        case "TanH": l.tanhParam
        default: nil
        }
    }

    /// True when `M` has a field called `name` (the text decoder tells an unknown name
    /// apart from a bad value).
    static func knows<M: SwiftProtobuf.Message>(_ type: M.Type, _ name: String) -> Bool {
        do {
            _ = try M(textFormatString: "\(name): 0")
        } catch TextFormatDecodingError.unknownField {
            return false
        } catch {}
        return true
    }

    static func check(layers: [Caffe_LayerParameter], text: Prototxt?, fromBinary: Bool,
                      notice: (String) -> Void) throws {
        let kept = { (l: Caffe_LayerParameter) in
            !CaffeNetBuilder.dataTypes.contains(l.type) && !CaffeNetBuilder.lossTypes.contains(l.type)
        }
        if let text {
            try check(text, keptNames: Set(layers.filter(kept).map(\.name)), notice: notice)
        }
        guard fromBinary else { return }
        for l in layers where kept(l) {
            let layerFields = CaffeUnknownFields.numbers(l.unknownFields.data)
            if !layerFields.isEmpty {
                notice("layer '\(l.name)' (\(l.type)): ignoring field(s) \(layerFields.map(String.init).joined(separator: ", ")) that Caffe's schema does not have")
            }
            if let p = typeParameterMessage(l) {
                let unknown = CaffeUnknownFields.numbers(p.unknownFields.data)
                if let f = unknown.first, let (name, _) = typeParameter(l.type) {
                    throw SRError.unsupported("layer '\(l.name)' (\(l.type)): field \(f) of \(name) is not in Caffe's schema (a fork's extension?) and could change the result")
                }
            }
            if l.type == "Pooling" && l.poolingParam.hasRoundMode {
                throw SRError.unsupported("layer '\(l.name)' (Pooling): pooling_param field 13 is set — upstream Caffe's round_mode, but some forks' ceil_mode with the opposite meaning; give the deploy prototxt (--prototxt), where the field is named")
            }
        }
    }

    private static func check(_ text: Prototxt, keptNames: Set<String>, notice: (String) -> Void) throws {
        for f in text.fields {
            guard let children = f.children, f.name == "layer" || f.name == "layers" else {
                if !knows(Caffe_NetParameter.self, f.name) {
                    notice("\(text.position(f)): ignoring field '\(f.name)' that Caffe's schema does not have")
                }
                continue
            }
            let v1 = f.name == "layers"
            let name = children.last { $0.name == "name" }.map(text.value) ?? ""
            guard keptNames.contains(name) else { continue }
            var type = children.last { $0.name == "type" }.map(text.value) ?? ""
            if v1, let t = v1Type(type) { type = t }
            let param = typeParameter(type)
            for c in children {
                let known = v1 ? knows(Caffe_V1LayerParameter.self, c.name) : knows(Caffe_LayerParameter.self, c.name)
                guard known else {
                    notice("\(text.position(c)): layer '\(name)': ignoring field '\(c.name)' that Caffe's schema does not have")
                    continue
                }
                guard let param, c.name == param.field, let grand = c.children else { continue }
                for g in grand where !knows(param.message, g.name) && !(CaffeForkFields.known[param.field] ?? []).contains(g.name) {
                    throw SRError.unsupported("\(text.position(g)): layer '\(name)' (\(type)): '\(g.name)' in \(param.field) is not in Caffe's schema and could change the result")
                }
            }
        }
    }

    /// `type: CONVOLUTION` (V1 enum name) → "Convolution".
    private static func v1Type(_ name: String) -> String? {
        guard let m = try? Caffe_V1LayerParameter(textFormatString: "type: \(name)") else { return nil }
        return CaffeV1.typeName(m.type)
    }
}
