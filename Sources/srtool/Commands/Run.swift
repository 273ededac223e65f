import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRRuntime

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model forward; write its output and, with --dump, every layer's output.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments

    @Option(name: .short, help: "Write the (first) output as .npy.")
    var output: String?

    @Option(help: "Write every layer's output as <tensor>.npy into this folder.")
    var dump: String?

    @OptionGroup var runtime: RuntimeArguments

    @Option(name: .customLong("repeat"), help: "Run the forward pass N times and print timings on stderr.")
    var repeatCount: Int = 0

    @Flag(help: "Print each layer's forward time on stderr.")
    var profile = false

    @Flag(help: "Print stable JSON instead of text (every output's name, shape and values).")
    var json = false

    func validate() throws {
        guard repeatCount >= 0 else { throw ValidationError("--repeat must not be negative") }
        try checkOutputName(output, option: "-o", format: "a .npy array", extensions: [".npy"])
    }

    func report(profile: [(String, String, Double)], runs: Int) {
        var total: [String: Double] = [:], order: [(String, String)] = []
        for (name, op, s) in profile {
            if total[name] == nil { order.append((name, op)) }
            total[name, default: 0] += s / Double(max(runs, 1))
        }
        let sum = total.values.reduce(0, +)
        var rows = [["layer", "op", "ms", "share"]]
        for (name, op) in order {
            let t = total[name] ?? 0
            rows.append([name, op, String(format: "%.3f", t * 1000), String(format: "%.1f%%", sum > 0 ? t / sum * 100 : 0)])
        }
        rows.append(["total", "", String(format: "%.3f", sum * 1000), "100%"])
        for line in formatTable(rows, rightAligned: [2, 3]) { Log.info(line) }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let loadedGraph = try modelArguments.loadForRunning()
        let loaded = clock.now
        LinuxSystem.reuseFreedMemoryAcrossSizes()  // forward passes only
        let (x, _) = try inputArguments.tensor(for: loadedGraph)
        try modelArguments.checkInput(x)
        // Handed over, so the executor can repack the linear layers' weights without a second copy.
        let executor = try Executor(graph: consume loadedGraph, threads: runtime.threadCount,
                                    budget: try modelArguments.budget(), packWeights: true)
        let graph = executor.graph
        var timings: [(String, String, Double)] = []
        if profile { executor.observer = { node, seconds in timings.append((node.name, node.op.name, seconds)) } }
        guard let inputName = graph.inputs.first?.name else { throw SRError.malformed("the model has no input") }
        var times: [Duration] = []
        var acts = Activations(tensors: [:])
        for _ in 0..<max(repeatCount, 1) {
            let t0 = clock.now
            acts = try executor.run([inputName: x], keepAll: dump != nil)
            times.append(clock.now - t0)
        }
        if repeatCount > 0 { Log.timing(load: loaded - start, label: "forward", runs: times) }
        if profile { report(profile: timings, runs: times.count) }
        guard let first = graph.outputs.first, let y = acts[first] else { throw SRError.internalError("no output computed") }
        if let dump {
            let folder = try OutputFolder(dump)
            var names = FileNames()
            for name in acts.tensors.keys.sorted() {
                guard let t = acts[name] else { continue }
                try NPY.write(t, to: folder.file(names.name(for: name, extension: ".npy")))
            }
            try folder.commit()
        }
        if let output { try NPY.write(y, to: output) }
        let report = RunReport(model: modelArguments.model, outputs: graph.outputs.compactMap { name in
            acts[name].map { RunReport.Output(name: name, shape: $0.shape, values: $0.count <= RunReport.maxValues ? $0.values : nil) }
        }, wrote: output)
        if json {
            emit(try jsonText(report))
        } else if let output {
            emit("wrote \(output): \(shapeText(y.shape))")
        } else {
            for name in graph.outputs {
                guard let t = acts[name] else { continue }
                let head = t.buffer.prefix(10).map { number($0) }.joined(separator: " ")
                emit("\(name) \(shapeText(t.shape)): \(head)\(t.count > 10 ? " …" : "")")
            }
        }
    }
}

/// `run --json`. Field names are part of the CLI contract (docs/json.md).
struct RunReport: Encodable {
    /// Outputs with more elements give `values: null` (write them with -o).
    static let maxValues = 1 << 20
    struct Output: Encodable { var name: String; var shape: [Int]; var values: [Float]? }
    var model: String
    var outputs: [Output]
    var wrote: String?
}

/// The threading option of commands that run the network.
struct RuntimeArguments: ParsableArguments {
    @Option(help: "CPU threads (default: all cores).")
    var threads: Int?

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}
