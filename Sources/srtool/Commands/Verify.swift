import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRFormats

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audit relevance conservation layer by layer; exit 1 when a conserving layer leaks.")

    @OptionGroup var modelArguments: ModelArguments
    @OptionGroup var inputArguments: InputArguments

    @OptionGroup var explainArguments: ExplainArguments

    @Option(parsing: .unconditional, help: "Largest |Σ R_out − Σ R_in| of a conserving layer, relative to the start relevance.")
    var tolerance: Double = 1e-3

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup var runtime: RuntimeArguments
    @OptionGroup var progressArguments: ProgressArguments

    func validate() throws {
        guard tolerance >= 0 else { throw ValidationError("--tolerance must not be negative") }
    }

    func run() throws {
        let graph = try modelArguments.loadForRunning()
        let inputs = try inputArguments.sources()
        let preprocessing = inputArguments.hasImages ? try inputArguments.preprocessing(for: graph) : nil
        let explainer = try Explainer(graph: graph, threads: runtime.threadCount, budget: try modelArguments.budget())
        let target = try explainArguments.resolveTarget(labels: graph.metadata.labels)
        // Images one at a time (bounded memory over a folder); a .npy batch sample by sample.
        let chunks: [[InputSource]] = inputs.first?.isTensor == true ? [inputs] : inputs.map { [$0] }
        let progress = progressArguments.progress("verifying", total: chunks.count, unit: "images")
        var rules: RuleSet?
        var audits: [ConservationAudit] = []
        var sources: [String] = []
        for (c, chunk) in chunks.enumerated() {
            let (x, names) = try inputArguments.tensor(for: graph, sources: chunk)
            try modelArguments.checkInput(x)
            let r = try rules ?? explainArguments.ruleSet(for: explainer, graph: graph, input: x, preprocessing: preprocessing)
            rules = r
            for n in 0..<x.shape[0] {
                audits += try explainer.audit(x.sample(n), target: target, rules: r, tolerance: tolerance,
                                             retention: .tensors([])).1
            }
            sources += names
            progress.update(Double(c + 1) / Double(chunks.count))
        }
        progress.finish()
        let report = VerifyReport(model: modelArguments.model, composite: explainArguments.compositeName(for: .lrp), tolerance: tolerance,
                                  sources: sources, audits: audits)
        emit(json ? try jsonText(report) : report.text)
        if !report.passed {
            let bad = audits.flatMap { $0.layers.filter { !$0.ok } }.map(\.node)
            throw SRError.checkFailed("relevance is not conserved at \(Set(bad).sorted().joined(separator: ", "))")
        }
    }
}

/// `verify --json`. Field names are part of the CLI contract.
struct VerifyReport: Encodable {
    struct Layer: Encodable {
        var index: Int
        var name: String
        var op: String
        var rule: String
        var relevanceOut: Double
        var relevanceIn: Double
        var absorbed: Double
        var deviationFromStart: Double
        var shouldConserve: Bool
        var ok: Bool
    }
    struct Image: Encodable {
        var input: String
        var target: Int
        var start: Double
        var inputRelevance: Double
        var layers: [Layer]
        var passed: Bool
    }
    var model: String
    var composite: String
    var tolerance: Double
    var images: [Image]
    var passed: Bool

    init(model: String, composite: String, tolerance: Double, sources: [String], audits: [ConservationAudit]) {
        self.model = model; self.composite = composite; self.tolerance = tolerance
        images = audits.enumerated().map { i, a in
            Image(input: i < sources.count ? sources[i] : "#\(i)", target: a.target, start: a.start,
                  inputRelevance: a.inputRelevance, layers: a.layers.map {
                      Layer(index: $0.index, name: $0.node, op: $0.op, rule: $0.rule, relevanceOut: $0.relevanceOut,
                            relevanceIn: $0.relevanceIn, absorbed: $0.absorbed, deviationFromStart: $0.deviationFromStart,
                            shouldConserve: $0.shouldConserve, ok: $0.ok)
                  }, passed: a.passed)
        }
        passed = audits.allSatisfy(\.passed)
    }

    var text: String {
        images.map { img in
            var rows = [["#", "layer", "op", "rule", "Σ R out", "Σ R in", "absorbed", "vs start", "check"]]
            for l in img.layers {
                rows.append(["\(l.index)", l.name, l.op, l.rule, number(Float(l.relevanceOut)), number(Float(l.relevanceIn)),
                             number(Float(l.absorbed)), String(format: "%+.2f%%", l.deviationFromStart * 100),
                             l.shouldConserve ? (l.ok ? "ok" : "LEAK") : "-"])
            }
            let head = "\(img.input): target \(img.target), start \(number(Float(img.start))), "
                + "input Σ \(number(Float(img.inputRelevance))) — \(img.passed ? "conserved" : "NOT conserved")"
            return ([head] + formatTable(rows, rightAligned: [0, 4, 5, 6, 7])).joined(separator: "\n")
        }.joined(separator: "\n\n")
    }
}
