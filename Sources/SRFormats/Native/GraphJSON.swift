import Foundation
import SRCore

/// The graph as JSON, stored in a `.srm` header's `__metadata__.graph`:
/// `{"inputs": [{name, shape}], "outputs": [..], "nodes": [{name, op, attributes,
/// inputs, outputs, params}], "metadata": {sourceFormat, sourceFiles, preprocess, labels}}`.
/// Weights are named by `params` and stored as the file's tensors.
struct GraphRecord: Codable {
    var inputs: [GraphInput]
    var outputs: [String]
    var nodes: [NodeRecord]
    var metadata: GraphMetadata
}

struct NodeRecord: Codable {
    var name: String
    var op: String
    var attributes: OpAttributes?
    var inputs: [String]
    var outputs: [String]
    var params: [String: String]
}

/// Union of every op's attributes; each op reads the fields it owns.
struct OpAttributes: Codable {
    var conv: Conv2DAttributes?
    var convTranspose: ConvTranspose2DAttributes?
    var pool: Pool2DAttributes?
    var lrn: LRNAttributes?
    var slope: Float?
    var epsilon: Float?
    var axis: Int?
    var shape: [Int]?
    var min: Float?
    var max: Float?
    var pads: [Int]?
    var value: Float?
    var exponent: Float?
    var threshold: Float?
    var perm: [Int]?
    var reduce: ReduceAttributes?
    var resize: ResizeAttributes?
    var start: Int?
    var end: Int?
    var step: Int?
    var alpha: Float?
    var beta: Float?
    var gamma: Float?
}

extension NodeRecord {
    init(_ node: Node) {
        var a = OpAttributes()
        switch node.op {
        case .conv2d(let c): a.conv = c
        case .convTranspose2d(let t): a.convTranspose = t
        case .maxPool2d(let p), .avgPool2d(let p): a.pool = p
        case .lrn(let l): a.lrn = l
        case .relu(let s): a.slope = s
        case .batchNorm(let e): a.epsilon = e
        case .concat(let axis), .softmax(let axis): a.axis = axis
        case .reshape(let s): a.shape = s
        case .clip(let lo, let hi): a.min = lo; a.max = hi
        case .pad(let p, let v): a.pads = p; a.value = v
        case .power(let e): a.exponent = e
        case .thresholdedRelu(let t): a.threshold = t
        case .scale(let axis): if axis != 1 { a.axis = axis }  // files before axes existed: 1
        case .transpose(let perm): a.perm = perm
        case .reduce(let r): a.reduce = r
        case .resize(let r): a.resize = r
        case .slice(let axis, let start, let end, let step): a.axis = axis; a.start = start; a.end = end; a.step = step
        case .unary(let f):
            for (name, v) in f.parameters {
                switch name {
                case "alpha": a.alpha = v
                case "beta": a.beta = v
                default: a.gamma = v
                }
            }
        case .layerNorm(let axis, let eps): a.axis = axis; a.epsilon = eps
        case .linear, .prelu, .globalAvgPool, .globalMaxPool, .add, .mul, .max, .flatten,
             .sigmoid, .tanh, .identity, .matmul, .batchConstant:
            break
        }
        let empty = a.conv == nil && a.convTranspose == nil && a.pool == nil && a.lrn == nil && a.slope == nil && a.epsilon == nil
            && a.axis == nil && a.shape == nil && a.min == nil && a.pads == nil && a.exponent == nil && a.threshold == nil
            && a.perm == nil && a.reduce == nil && a.alpha == nil && a.resize == nil
        self.init(name: node.name, op: node.op.name, attributes: empty ? nil : a, inputs: node.inputs,
                  outputs: node.outputs, params: node.params)
    }

    func node() throws -> Node {
        let a = attributes ?? OpAttributes()
        func need<T>(_ v: T?, _ field: String) throws -> T {
            guard let v else { throw SRError.malformed("node '\(name)' (\(op)): missing attribute '\(field)'") }
            return v
        }
        let o: Op
        switch op {
        case "conv2d": o = .conv2d(try need(a.conv, "conv"))
        case "convTranspose2d": o = .convTranspose2d(try need(a.convTranspose, "convTranspose"))
        case "linear": o = .linear
        case "relu": o = .relu(slope: a.slope ?? 0)
        case "prelu": o = .prelu
        case "maxPool2d": o = .maxPool2d(try need(a.pool, "pool"))
        case "avgPool2d": o = .avgPool2d(try need(a.pool, "pool"))
        case "globalAvgPool": o = .globalAvgPool
        case "globalMaxPool": o = .globalMaxPool
        case "lrn": o = .lrn(try need(a.lrn, "lrn"))
        case "batchNorm": o = .batchNorm(epsilon: try need(a.epsilon, "epsilon"))
        case "scale": o = .scale(axis: a.axis ?? 1)
        case "transpose": o = .transpose(perm: try need(a.perm, "perm"))
        case "reduce": o = .reduce(try need(a.reduce, "reduce"))
        case "slice":
            o = .slice(axis: try need(a.axis, "axis"), start: try need(a.start, "start"), end: try need(a.end, "end"),
                       step: a.step ?? 1)
        case "matmul": o = .matmul
        case "resize": o = .resize(try need(a.resize, "resize"))
        case "batchConstant": o = .batchConstant
        case "layerNorm": o = .layerNorm(axis: try need(a.axis, "axis"), epsilon: try need(a.epsilon, "epsilon"))
        case "add": o = .add
        case "mul": o = .mul
        case "max": o = .max
        case "concat": o = .concat(axis: try need(a.axis, "axis"))
        case "flatten": o = .flatten
        case "reshape": o = .reshape(shape: try need(a.shape, "shape"))
        case "softmax": o = .softmax(axis: try need(a.axis, "axis"))
        case "sigmoid": o = .sigmoid
        case "tanh": o = .tanh
        case "power": o = .power(exponent: try need(a.exponent, "exponent"))
        case "thresholdedRelu": o = .thresholdedRelu(threshold: try need(a.threshold, "threshold"))
        case "clip": o = .clip(min: try need(a.min, "min"), max: try need(a.max, "max"))
        case "pad": o = .pad(pads: try need(a.pads, "pads"), value: a.value ?? 0)
        case "identity": o = .identity
        default:
            let parameters = ["alpha": a.alpha, "beta": a.beta, "gamma": a.gamma]
            guard let f = UnaryFunction(name: op, parameter: { parameters[$0] ?? nil }) else {
                throw SRError.unsupported("node '\(name)': op '\(op)' is not known to this srtool")
            }
            o = .unary(f)
        }
        return Node(name: name, op: o, inputs: inputs, outputs: outputs, params: params)
    }
}
