import Foundation
import SRCore

/// The state of one Caffe import: the TEST-phase layer list, the map from Caffe blob
/// names to IR tensors (in-place layers re-define a blob name), the weights.
final class CaffeNetBuilder {
    let assembler: GraphAssembler
    let weights: CaffeWeights
    /// Caffe blob name → the IR tensor currently holding it.
    private var blobs: [String: String] = [:]
    /// IR tensors read by some node, for finding the net's outputs.
    private var consumed = Set<String>()
    private var tops: [String] = []

    /// Layers that feed data or compute a loss or metric: dropped from the inference graph.
    static let dataTypes: Set<String> = ["Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData",
                                         "AnnotatedData", "VideoData", "Python"]
    static let lossTypes: Set<String> = ["SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
                                         "InfogainLoss", "MultinomialLogisticLoss", "ContrastiveLoss", "Accuracy",
                                         "Silence", "HDF5Output"]

    /// What the layers came from ("deploy.prototxt"), for messages.
    let description: String

    init(weights: CaffeWeights, description: String, limits: ImportLimits) {
        self.weights = weights
        self.description = description
        assembler = GraphAssembler(limits: limits)
    }

    /// Caffe's `Net::StateMeetsRule` for the TEST phase, level 0, no stages.
    static func included(_ l: Caffe_LayerParameter) -> Bool {
        func meets(_ r: Caffe_NetStateRule) -> Bool {
            if r.hasPhase && r.phase != .test { return false }
            if r.hasMinLevel && 0 < r.minLevel { return false }
            if r.hasMaxLevel && 0 > r.maxLevel { return false }
            return r.stage.isEmpty
        }
        if !l.include.isEmpty { return l.include.contains(where: meets) }
        return !l.exclude.contains(where: meets)
    }

    func declareInput(_ blob: String, shape: [Int]) {
        assembler.declareInput(blob, shape: shape)
        blobs[blob] = blob
        tops.append(blob)
    }

    func tensor(forBlob blob: String, layer: String) throws -> String {
        guard let t = blobs[blob] else {
            throw SRError.malformed("layer '\(layer)': bottom blob '\(blob)' is not produced by any earlier layer or input")
        }
        consumed.insert(t)
        return t
    }

    /// The IR name for a layer's top: the blob's own name the first time, the layer's
    /// name when the layer works in place (top == an existing blob).
    func output(forTop top: String, layer: String) -> String {
        if blobs[top] == nil && !assembler.isDefined(top) { return top }
        return assembler.unique(layer)
    }

    func define(top: String, as tensor: String) {
        blobs[top] = tensor
        tops.append(top)
    }

    /// The net's outputs: the last tensor of every blob no later layer reads.
    func outputs() -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for top in tops {
            guard let t = blobs[top], !consumed.contains(t), !seen.contains(t), assembler.producerExists(t) else { continue }
            seen.insert(t)
            result.append(t)
        }
        return result
    }
}
