import Foundation
import SRCore
import SRExplain
import SRRuntime
import SRTestSupport
import XCTest

/// What the rule twin tests share: one rule on a one-node graph, and the tiny conv and
/// linear layers the closed forms are written over, as lists of connections.
enum RuleHarness {
    /// Seeded values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = Seeded(state: seed)
        return (0..<count).map { _ in Float(Int64(bitPattern: rng.next() >> 11) % 2000) / 1000 - 1 }
    }

    /// The relevance (or gradient) `rules` sends to each input of the graph's nodes when
    /// `start` arrives at `output`.
    static func backward(_ graph: Graph, inputs: [String: Tensor], output: String = "y", start: Tensor,
                         rules: RuleSet) throws -> [String: Tensor] {
        var activations = try Executor(graph: graph, threads: 1).run(inputs)
        return try BackwardEngine(graph: graph).run(activations: &activations, start: [output: start], rules: rules)
    }

    static func graph(_ nodes: [Node], inputs: [String: [Int]], weights: [String: Tensor] = [:]) -> Graph {
        Graph(inputs: inputs.keys.sorted().map { GraphInput(name: $0, shape: inputs[$0] ?? []) }, outputs: ["y"],
              nodes: nodes, weights: weights, metadata: GraphMetadata(sourceFormat: "test"))
    }

    static func check(_ got: [Float], _ want: [Double], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        if let why = closeness(got, want.map(Float.init), atol: 1e-5, rtol: 1e-4) { XCTFail("\(name): \(why)", file: file, line: line) }
    }

    /// zennit's stabiliser: `z + ε·sign(z)` with sign(0) = +1.
    static func stab(_ z: Double, _ epsilon: Double = 1e-6) -> Double { z + (z >= 0 ? epsilon : -epsilon) }
}

/// A conv or linear layer written out as what each output reads: output j is
/// `b[bias_j] + Σ_{(i, k) ∈ taps_j} x[i]·w[k]` (padding reads nothing). The closed forms
/// loop over these; the rules run the real kernels on `graph`.
struct TinyLayer {
    struct Output {
        var bias: Int
        var taps: [(input: Int, weight: Int)]
    }

    let name: String
    let graph: Graph
    let inputShape: [Int]
    let outputShape: [Int]
    let w: [Double]
    let b: [Double]
    let outputs: [Output]

    var inputCount: Int { inputShape.reduce(1, *) }
    var outputCount: Int { outputs.count }

    /// The plain output `b + Σ x·w` of each output.
    func forward(_ x: [Double]) -> [Double] {
        outputs.map { o in o.taps.reduce(b[o.bias]) { $0 + x[$1.input] * w[$1.weight] } }
    }

    /// `y = x·Wᵀ + b`, W `[out, in]`.
    static func linear(inputs: Int = 7, outputs: Int = 5, seed: UInt64 = 3, bias: Bool = true) throws -> TinyLayer {
        let w = RuleHarness.values(outputs * inputs, seed: seed)
        let b = bias ? RuleHarness.values(outputs, seed: seed + 1).map { $0 * 0.3 } : [Float](repeating: 0, count: outputs)
        let taps = (0..<outputs).map { j in Output(bias: j, taps: (0..<inputs).map { i in (i, j * inputs + i) }) }
        return try make("linear", op: .linear, inputShape: [1, inputs], outputShape: [1, outputs],
                        weightShape: [outputs, inputs], w: w, b: bias ? b : nil, outputs: taps)
    }

    /// A 3×3 convolution, stride 2, padding 1: `[1, 2, 5, 5] → [1, 3, 3, 3]`, weights OIHW.
    static func conv(seed: UInt64 = 5, bias: Bool = true) throws -> TinyLayer {
        let (c, h, wd, o, k, stride, pad) = (2, 5, 5, 3, 3, 2, 1)
        let (ho, wo) = ((h + 2 * pad - k) / stride + 1, (wd + 2 * pad - k) / stride + 1)
        let w = RuleHarness.values(o * c * k * k, seed: seed)
        let b = RuleHarness.values(o, seed: seed + 1).map { $0 * 0.3 }
        var outputs: [Output] = []
        for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
            var taps: [(Int, Int)] = []
            for ic in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (oy * stride - pad + ky, ox * stride - pad + kx)
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                taps.append(((ic * h + iy) * wd + ix, ((oc * c + ic) * k + ky) * k + kx))
            } } }
            outputs.append(Output(bias: oc, taps: taps))
        } } }
        let attributes = Conv2DAttributes(kernel: [k, k], stride: [stride, stride], pads: [pad, pad, pad, pad])
        return try make("conv", op: .conv2d(attributes), inputShape: [1, c, h, wd], outputShape: [1, o, ho, wo],
                        weightShape: [o, c, k, k], w: w, b: bias ? b : nil, outputs: outputs)
    }

    private static func make(_ name: String, op: Op, inputShape: [Int], outputShape: [Int], weightShape: [Int],
                             w: [Float], b: [Float]?, outputs: [Output]) throws -> TinyLayer {
        var weights = ["w": try Tensor(shape: weightShape, values: w)]
        var params = ["weight": "w"]
        if let b { weights["b"] = try Tensor(shape: [b.count], values: b); params["bias"] = "b" }
        let graph = RuleHarness.graph([Node(name: name, op: op, inputs: ["x"], outputs: ["y"], params: params)],
                                      inputs: ["x": inputShape], weights: weights)
        let bias = b ?? [Float](repeating: 0, count: weightShape[0])
        return TinyLayer(name: name, graph: graph, inputShape: inputShape, outputShape: outputShape,
                         w: w.map(Double.init), b: bias.map(Double.init), outputs: outputs)
    }

    /// The same layer with other weights and biases (same shapes).
    func with(w: [Double], b: [Double]) throws -> TinyLayer {
        var g = graph
        g.weights["w"] = try Tensor(shape: g.weights["w"]?.shape ?? [], values: w.map(Float.init))
        if g.weights["b"] != nil { g.weights["b"] = try Tensor(shape: [b.count], values: b.map(Float.init)) }
        return TinyLayer(name: name, graph: g, inputShape: inputShape, outputShape: outputShape, w: w, b: b, outputs: outputs)
    }

    /// The relevance `rule` sends to the input `x` when `relevance` arrives at the output.
    func run(_ rule: Rule, x: [Double], relevance: [Double]) throws -> [Float] {
        let r = try RuleHarness.backward(graph, inputs: ["x": try Tensor(shape: inputShape, values: x.map(Float.init))],
                                         start: try Tensor(shape: outputShape, values: relevance.map(Float.init)),
                                         rules: RuleSet { _ in rule })
        return try XCTUnwrap(r["x"]).values
    }
}
