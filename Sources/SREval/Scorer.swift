import Foundation
import SRCore
import SRRuntime

/// What a perturbation metric reads from the network: the target's softmax probability
/// (Quantus' default, `softmax=True`) or its logit.
public enum Score: String, CaseIterable, Sendable {
    case probability, logit
}

/// Runs perturbed copies of one input through the network in batches and reads the
/// target's score and whether the target is still the top class.
public final class Scorer {
    public let executor: Executor
    public let score: Score
    public let batch: Int
    private let output: String
    /// The graph output already is a softmax (its scores are probabilities).
    private let outputIsProbability: Bool

    /// `batch`: copies per forward pass.
    public init(graph: Graph, score: Score, batch: Int, threads: Int, budget: RunBudget = RunBudget()) throws {
        guard batch >= 1 else { throw SRError.usage("--batch must be positive") }
        guard let out = graph.outputs.first else { throw SRError.malformed("the model has no output") }
        var g = graph
        // A model ending in softmax: its input are the logits.
        if score == .logit, let node = graph.producer(of: out), case .softmax = node.op {
            g.outputs = [node.inputs[0]]
            outputIsProbability = false
        } else {
            outputIsProbability = graph.endsInSoftmax
        }
        output = g.outputs[0]
        executor = try Executor(graph: g, threads: threads, budget: budget)
        self.score = score
        self.batch = batch
    }

    /// One row of scores per input: the target's score and whether it is the arg-max
    /// (the first of equal maxima, as numpy's argmax).
    public struct Reading: Sendable, Equatable {
        public var score: Double
        public var isTop: Bool
    }

    /// The readings of `count` inputs `[C, H, W]` that `fill(i, destination)` writes.
    public func read(count: Int, shape: [Int], target: Int,
                     fill: (Int, UnsafeMutablePointer<Float>) throws -> Void) throws -> [Reading] {
        guard let inputName = executor.graph.inputs.first?.name else { throw SRError.malformed("the model has no input") }
        let size = shape.reduce(1, *)
        var readings: [Reading] = []
        readings.reserveCapacity(count)
        var start = 0
        while start < count {
            let b = min(batch, count - start)
            let x = Tensor(uninitialized: [b] + shape)
            for i in 0..<b { try fill(start + i, x.pointer + i * size) }
            let acts = try executor.run([inputName: x], keepAll: false)
            guard let y = acts[output] else { throw SRError.internalError("output '\(output)' not computed") }
            let classes = y.count / b
            guard target >= 0, target < classes else {
                throw SRError.usage("target \(target) is out of range: the model has \(classes) classes")
            }
            for i in 0..<b {
                let row = UnsafeBufferPointer(start: y.pointer + i * classes, count: classes)
                readings.append(Reading(score: value(row, target), isTop: firstArgmax(row) == target))
            }
            start += b
        }
        return readings
    }

    private func value(_ row: UnsafeBufferPointer<Float>, _ k: Int) -> Double {
        if score == .logit || outputIsProbability { return Double(row[k]) }
        // float32 softmax, as torch.softmax computes it.
        let m = row.max() ?? 0
        var s: Float = 0
        for v in row { s += expf(v - m) }
        return Double(expf(row[k] - m) / s)
    }

    private func firstArgmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in row.indices where row[i] > row[best] { best = i }
        return best
    }
}
