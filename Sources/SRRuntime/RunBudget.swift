import Foundation
import SRCore

/// What one run may use, checked from shape inference before anything is allocated: the
/// activation memory of the whole batch and the multiply-accumulates per image. A model
/// of a few hundred bytes can claim a 2^31-element activation or a trillion MACs; the
/// budget turns that into one error line instead of gigabytes, a kill or hours.
public struct RunBudget: Sendable, Equatable {
    /// Bytes of activations (and, for a backward pass, as much again).
    public var maxMemory: Int
    /// Multiply-accumulates per image.
    public var maxMACs: Int

    public init(maxMemory: Int = RunBudget.defaultMemory, maxMACs: Int = RunBudget.defaultMACs) {
        self.maxMemory = maxMemory
        self.maxMACs = maxMACs
    }

    public static let unlimited = RunBudget(maxMemory: .max, maxMACs: .max)

    /// 10^12 MACs per image: 65 VGG-16s, far beyond any classifier people explain.
    public static let defaultMACs = 1_000_000_000_000

    /// 75 % of the memory this process can have: the smallest of physical memory, the
    /// cgroup's `memory.max` and the `RLIMIT_AS` / `RLIMIT_DATA` limits (read once).
    public static let defaultMemory: Int = {
        var limits = [Int(ProcessInfo.processInfo.physicalMemory)]
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let v = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            limits.append(v)
        }
        for resource in [RLIMIT_AS, RLIMIT_DATA] {
            var r = rlimit()
            if getrlimit(__rlimit_resource_t(resource.rawValue), &r) == 0, r.rlim_cur < UInt64(Int.max) {
                limits.append(Int(r.rlim_cur))
            }
        }
        return (limits.min() ?? 0) / 4 * 3
    }()
}

/// The activation memory of one forward pass, from the shape table: with `keepAll` every
/// tensor; otherwise the peak of the tensors alive at once (each freed after its last
/// reader, as `Executor.run` does). Reshapes share their input's storage and cost nothing.
public struct MemoryPlan: Sendable {
    public var peakBytes: Int
    /// The largest single activation.
    public var largest: (name: String, shape: [Int], bytes: Int)

    public init(graph: Graph, shapes: [String: [Int]], keepAll: Bool) {
        func bytes(_ name: String) -> Int { shapes[name].flatMap { Shape.byteCount($0, elementSize: 4) } ?? .max }
        func add(_ a: Int, _ b: Int) -> Int { let (s, o) = a.addingReportingOverflow(b); return o ? .max : s }
        var owned: [String: Int] = [:]
        for input in graph.inputs { owned[input.name] = bytes(input.name) }
        for node in graph.nodes {
            switch node.op {
            case .flatten, .reshape, .identity: owned[node.output] = 0
            case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn, .batchNorm,
                 .scale, .add, .mul, .max, .concat, .softmax, .sigmoid, .tanh, .power, .thresholdedRelu, .clip, .pad,
                 .transpose, .reduce, .slice, .unary, .layerNorm, .matmul, .batchConstant, .resize:
                owned[node.output] = bytes(node.output)
            }
        }
        largest = owned.max { $0.value < $1.value }.map { ($0.key, shapes[$0.key] ?? [], $0.value) } ?? ("", [], 0)
        if keepAll {
            peakBytes = owned.values.reduce(0, add)
            return
        }
        var readers: [String: Int] = [:]
        for node in graph.nodes { for i in node.inputs { readers[i, default: 0] += 1 } }
        let outputs = Set(graph.outputs)
        var live = graph.inputs.reduce(0) { add($0, owned[$1.name] ?? 0) }
        var peak = live
        for node in graph.nodes {
            live = add(live, owned[node.output] ?? 0)
            peak = max(peak, live)
            for i in node.inputs {
                readers[i, default: 1] -= 1
                if readers[i] == 0 && !outputs.contains(i) { live -= min(live, owned[i] ?? 0) }
            }
        }
        peakBytes = peak
    }
}

extension RunBudget {
    /// Refuses a graph whose MACs per image exceed the budget (exit 65).
    func checkMACs(_ graph: Graph, shapes: [String: [Int]]) throws {
        let macs = graph.totalMACs(shapes: shapes)
        guard macs <= maxMACs else {
            throw SRError.malformed("the model needs \(macs == .max ? "more than 2^63" : "\(macs)") multiply-accumulates per image, more than the budget of \(maxMACs) (--max-macs)")
        }
    }

    /// Refuses a run whose activations exceed the budget (exit 65); a backward pass
    /// (`keepAll`) counts them twice.
    func checkMemory(_ plan: MemoryPlan, keepAll: Bool, batch: Int) throws {
        let (doubled, overflow) = plan.peakBytes.multipliedReportingOverflow(by: 2)
        let need = keepAll ? (overflow ? .max : doubled) : plan.peakBytes
        guard need <= maxMemory else {
            throw SRError.malformed("the run needs \(gigabytes(need)) of activations at batch \(batch), more than the budget of \(gigabytes(maxMemory)) (--max-memory); the largest is '\(plan.largest.name)' \(plan.largest.shape) (\(gigabytes(plan.largest.bytes)))")
        }
    }
}

/// "8.59 GB" (decimal), or "more than 9.2 EB" at the saturation point.
func gigabytes(_ bytes: Int) -> String {
    bytes == .max ? "more than 9.2e9 GB" : String(format: "%.3g GB", Double(bytes) / 1e9)
}
