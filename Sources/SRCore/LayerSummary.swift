/// One row of `srtool inspect`: a node with its shapes, parameter count and
/// multiply-accumulate count for one image.
public struct LayerSummary: Sendable, Equatable {
    public var index: Int
    public var node: Node
    public var inputShapes: [[Int]]
    public var outputShape: [Int]
    public var parameters: Int
    public var macs: Int
}

extension Graph {
    /// Per-node summaries at the declared input shapes; MACs are per image.
    public func summaries() throws -> [LayerSummary] {
        let shapes = try inferShapes()
        return nodes.enumerated().map { i, node in
            let ins = node.inputs.map { shapes[$0] ?? [] }
            let out = shapes[node.output] ?? []
            return LayerSummary(index: i, node: node, inputShapes: ins, outputShape: out,
                                parameters: parameterCount(node), macs: macs(node, inputs: ins, output: out))
        }
    }

    /// Multiply-accumulates per image of all nodes at `shapes` (saturating at `Int.max`:
    /// a hostile graph can claim more than 2^63).
    public func totalMACs(shapes: [String: [Int]]) -> Int {
        nodes.reduce(0) { total, node in
            let m = macs(node, inputs: node.inputs.map { shapes[$0] ?? [] }, output: shapes[node.output] ?? [])
            let (sum, overflow) = total.addingReportingOverflow(m)
            return overflow ? .max : sum
        }
    }

    /// Multiply-accumulates of a conv or linear node (one per weight use), saturating at
    /// `Int.max`; element-wise work elsewhere is not counted.
    func macs(_ node: Node, inputs: [[Int]], output: [Int]) -> Int {
        let outCount = Shape.elementCount(Array(output.dropFirst())) ?? .max
        switch node.op {
        case .conv2d(let a):
            guard let w = weight(node, "weight"), w.rank == 4 else { return 0 }
            return Shape.elementCount([outCount, w.shape[1], a.kernel[0], a.kernel[1]]) ?? .max
        case .convTranspose2d:
            // Every input pixel meets every weight of its group once.
            guard let w = weight(node, "weight"), w.rank == 4, let x = inputs.first, x.count == 4 else { return 0 }
            return Shape.elementCount([x[2], x[3], w.count]) ?? .max
        case .linear:
            // One weight use per output row: `[N, …, out]` has `count/out` rows per image.
            guard let w = weight(node, "weight"), w.rank == 2, w.shape[0] > 0 else { return 0 }
            return Shape.elementCount([outCount / w.shape[0], w.count]) ?? .max
        case .matmul:
            // K multiply-accumulates per output element.
            guard let a = inputs.first, a.count >= 1, let k = a.last else { return 0 }
            return Shape.elementCount([outCount, k]) ?? .max
        case .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn, .batchNorm, .scale,
             .add, .mul, .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .power, .thresholdedRelu, .clip, .pad,
             .identity, .transpose, .reduce, .slice, .unary, .layerNorm, .batchConstant, .resize:
            return 0
        }
    }
}
