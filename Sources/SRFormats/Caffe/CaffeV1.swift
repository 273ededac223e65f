import Foundation
import SRCore

/// The V1 (`layers { type: CONVOLUTION }`) layer format, upgraded to V2 `LayerParameter`
/// as Caffe's own `UpgradeV1LayerParameter` does: the enum type becomes its V2 name and the
/// per-type parameters move over unchanged (they are the same messages).
enum CaffeV1 {
    static func typeName(_ type: Caffe_V1LayerParameter.LayerType) -> String {
        switch type {
        case .none: ""
        case .absval: "AbsVal"
        case .accuracy: "Accuracy"
        case .argmax: "ArgMax"
        case .bnll: "BNLL"
        case .concat: "Concat"
        case .contrastiveLoss: "ContrastiveLoss"
        case .convolution: "Convolution"
        case .data: "Data"
        case .deconvolution: "Deconvolution"
        case .dropout: "Dropout"
        case .dummyData: "DummyData"
        case .euclideanLoss: "EuclideanLoss"
        case .eltwise: "Eltwise"
        case .exp: "Exp"
        case .flatten: "Flatten"
        case .hdf5Data: "HDF5Data"
        case .hdf5Output: "HDF5Output"
        case .hingeLoss: "HingeLoss"
        case .im2Col: "Im2col"
        case .imageData: "ImageData"
        case .infogainLoss: "InfogainLoss"
        case .innerProduct: "InnerProduct"
        case .lrn: "LRN"
        case .memoryData: "MemoryData"
        case .multinomialLogisticLoss: "MultinomialLogisticLoss"
        case .mvn: "MVN"
        case .pooling: "Pooling"
        case .power: "Power"
        case .relu: "ReLU"
        case .sigmoid: "Sigmoid"
        case .sigmoidCrossEntropyLoss: "SigmoidCrossEntropyLoss"
        case .silence: "Silence"
        case .softmax: "Softmax"
        case .softmaxLoss: "SoftmaxWithLoss"
        case .split: "Split"
        case .slice: "Slice"
        case .tanh: "TanH"
        case .windowData: "WindowData"
        case .threshold: "Threshold"
        }
    }

    /// V1LayerParameter field 1 holds the even older V0 layer, which srtool does not read.
    private static let v0LayerField = 1

    static func upgrade(_ v1: Caffe_V1LayerParameter) throws -> Caffe_LayerParameter {
        if CaffeUnknownFields.numbers(v1.unknownFields.data).contains(v0LayerField) {
            throw SRError.unsupported("layer '\(v1.name)' uses the V0 layer format (before 2014); upgrade it with Caffe's upgrade_net_proto_binary")
        }
        var l = Caffe_LayerParameter()
        l.name = v1.name
        l.type = typeName(v1.type)
        l.bottom = v1.bottom
        l.top = v1.top
        l.include = v1.include
        l.exclude = v1.exclude
        l.lossWeight = v1.lossWeight
        if v1.hasAccuracyParam { l.accuracyParam = v1.accuracyParam }
        if v1.hasConcatParam { l.concatParam = v1.concatParam }
        if v1.hasConvolutionParam { l.convolutionParam = v1.convolutionParam }
        if v1.hasDataParam { l.dataParam = v1.dataParam }
        if v1.hasDropoutParam { l.dropoutParam = v1.dropoutParam }
        if v1.hasDummyDataParam { l.dummyDataParam = v1.dummyDataParam }
        if v1.hasEltwiseParam { l.eltwiseParam = v1.eltwiseParam }
        if v1.hasInnerProductParam { l.innerProductParam = v1.innerProductParam }
        if v1.hasLrnParam { l.lrnParam = v1.lrnParam }
        if v1.hasPoolingParam { l.poolingParam = v1.poolingParam }
        if v1.hasPowerParam { l.powerParam = v1.powerParam }
        if v1.hasReluParam { l.reluParam = v1.reluParam }
        if v1.hasSigmoidParam { l.sigmoidParam = v1.sigmoidParam }
        if v1.hasSoftmaxParam { l.softmaxParam = v1.softmaxParam }
        if v1.hasTanhParam { l.tanhParam = v1.tanhParam }
        if v1.hasTransformParam { l.transformParam = v1.transformParam }
        if v1.hasLossParam { l.lossParam = v1.lossParam }
        l.unknownFields = v1.unknownFields
        return l
    }
}

/// Field numbers of the unknown fields a decoded message kept (fields outside srtool's
/// schema subset, e.g. a fork's extra parameters).
enum CaffeUnknownFields {
    static func numbers(_ data: Data) -> [Int] {
        data.withUnsafeBytes { bytes -> [Int] in
            var reader = ProtoWireReader(bytes, range: 0..<bytes.count)
            var found: [Int] = []
            while !reader.atEnd {
                guard let (field, wire) = try? reader.tag(), (try? reader.skip(wire: wire)) != nil else { break }
                if !found.contains(field) { found.append(field) }
            }
            return found
        }
    }
}
