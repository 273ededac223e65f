import SRCore
import SRRuntime

/// Which class to explain.
public enum Target: Sendable, Equatable {
    /// The highest-scoring class of each image.
    case top
    case index(Int)
    /// A class per image (a dataset's labels), in batch order.
    case each([Int])

    /// The class of image `i` whose `classes` scores start at `row`.
    func resolve(_ i: Int, row: UnsafePointer<Float>, classes: Int) throws -> Int {
        let k: Int
        switch self {
        case .top: return (0..<classes).max { row[$0] < row[$1] } ?? 0
        case .index(let t): k = t
        case .each(let ts):
            guard i < ts.count else { throw SRError.internalError("\(ts.count) targets for a batch of more images") }
            k = ts[i]
        }
        guard k >= 0, k < classes else { throw SRError.usage("target \(k) is out of range: the model has \(classes) classes") }
        return k
    }
}

/// The result of a backward pass: the signal at the input and at the tensors kept.
public struct Explanation: @unchecked Sendable {
    /// `[N, C, H, W]` relevance (or gradient) at the graph input.
    public var input: Tensor
    /// Signal at every tensor reached that the pass's `Retention` keeps, by tensor name
    /// (the graph input included).
    public var layers: [String: Tensor]
    /// The class explained for each image.
    public var targets: [Int]
    /// The start value per image: the target's logit.
    public var startValues: [Float]
    /// The tensor the backward pass started from (the pre-softmax logits).
    public var startTensor: String
    /// The canonized graph the explanation ran on (its node names key `layers`).
    public var graph: Graph
    /// The forward pass's activations the `Retention` keeps (always the start tensor).
    public var activations: Activations
}

/// Runs a model forward and a rule set backward: LRP with a composite, and the gradient
/// family. Batch norms are folded into their conv/linear layers first (canonizers).
public final class Explainer {
    public let graph: Graph
    public let executor: Executor
    private let engine: BackwardEngine

    public init(graph: Graph, threads: Int, budget: RunBudget = RunBudget()) throws {
        self.graph = try Canonizer.foldAffineIntoNext(Canonizer.foldAffine(Canonizer.foldPadding(graph)))
        executor = try Executor(graph: self.graph, threads: threads, budget: budget, winograd: .f2x2)
        engine = BackwardEngine(graph: self.graph)
    }

    /// The tensor relevance starts from: the graph output, or the input of a final softmax.
    public var startTensor: String {
        guard let out = graph.outputs.first else { return "" }
        if let node = graph.producer(of: out), case .softmax = node.op { return node.inputs[0] }
        return out
    }

    /// Explains each image of `input` for its target: the start relevance is one-hot × the
    /// target's logit (LRP), or just one-hot with `gradientStart` (the gradient family:
    /// ∂logit/∂x, as Captum and autograd compute it).
    /// `fuseActivations` lets the forward pass rectify conv outputs in place (see
    /// `Executor.run`): right for gradients through ReLUs, wrong for rules reading a conv's
    /// own output.
    public func explain(_ input: Tensor, target: Target, rules: RuleSet, gradientStart: Bool = false, stopAt: String? = nil,
                        fuseActivations: Bool = false, retention: Retention = .everyLayer,
                        observe: ((Node, Rule, Tensor, [Tensor?]) -> Void)? = nil) throws -> Explanation {
        try parallel {
            try propagate(input, target: target, rules: rules, gradientStart: gradientStart, stopAt: stopAt,
                          fuseActivations: fuseActivations, retention: retention, observe: observe)
        }
    }

    /// `body` with the kernels on this explainer's cores (`Parallel.using`).
    public func parallel<R>(_ body: () throws -> R) rethrows -> R {
        try Parallel.using(executor.threads, body)
    }

    private func propagate(_ input: Tensor, target: Target, rules: RuleSet, gradientStart: Bool, stopAt: String?,
                           fuseActivations: Bool, retention: Retention,
                           observe: ((Node, Rule, Tensor, [Tensor?]) -> Void)?) throws -> Explanation {
        guard let inputName = graph.inputs.first?.name else { throw SRError.malformed("the model has no input") }
        var acts = try executor.run([inputName: input], keepAll: true, fuse: fuseActivations)
        let start = startTensor
        guard let logits = acts[start] else { throw SRError.internalError("no output '\(start)'") }
        let n = logits.shape[0], classes = logits.count / max(n, 1)
        let seed = Tensor(zeros: logits.shape)
        var targets: [Int] = [], values: [Float] = []
        for i in 0..<n {
            let row = logits.pointer + i * classes
            let k = try target.resolve(i, row: row, classes: classes)
            targets.append(k)
            values.append(row[k])
            seed.pointer[i * classes + k] = gradientStart ? 1 : row[k]
        }
        // The logits stay: they are the explanation's scores.
        let kept: Retention = switch retention {
        case .everyLayer: .everyLayer
        case .tensors(let names): .tensors(names.union([start]))
        }
        let layers = try engine.run(activations: &acts, start: [start: seed], rules: rules, stopAt: stopAt,
                                    retention: kept, observe: observe)
        // Stopping early (Grad-CAM) leaves the input without a signal.
        guard let r = layers[inputName] ?? (stopAt != nil ? Tensor(zeros: input.shape) : nil) else {
            throw SRError.internalError("no relevance reached the input")
        }
        return Explanation(input: r, layers: layers, targets: targets, startValues: values, startTensor: start,
                           graph: graph, activations: acts)
    }
}
