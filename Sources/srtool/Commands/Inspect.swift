import ArgumentParser
import Foundation
import SRCore
import SRExplain
import SRRuntime

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers: shapes, parameters, MACs; or one layer in full.")

    @OptionGroup var modelArguments: ModelArguments

    @Option(help: "Show one layer in full (node name, the name of the tensor it outputs, or its # in the table).")
    var layer: String?

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    @OptionGroup(title: "Relevance of the layer (with --layer and --image or --input)")
    var inputArguments: InputArguments

    @OptionGroup var explainArguments: ExplainArguments

    func run() throws {
        let graph = try modelArguments.load()
        let rows = try graph.summaries()
        if let layer {
            let node = try graph.resolveLayer(layer, option: "--layer")
            guard let row = rows.first(where: { $0.node.name == node.name }) else { throw SRError.internalError("no row for \(node.name)") }
            var report = LayerReport(row, graph: graph)
            if inputArguments.hasImages || inputArguments.input != nil {
                report.relevance = try relevance(of: row.node, graph: graph)
            }
            if json { emit(try jsonText(report)) } else { emit(report.text) }
            return
        }
        let report = ModelReport(model: modelArguments.model, graph: graph, rows: rows, budget: try modelArguments.budget())
        if json { emit(try jsonText(report)) } else { emit(report.text) }
    }

    /// LRP relevance at the node's output for the first image.
    private func relevance(of node: Node, graph: Graph) throws -> RelevanceStatistics {
        let (x, _) = try inputArguments.tensor(for: graph, sources: Array(try inputArguments.sources().prefix(1)))
        let preprocessing = inputArguments.hasImages ? try inputArguments.preprocessing(for: graph) : nil
        let explainer = try Explainer(graph: graph, threads: ProcessInfo.processInfo.activeProcessorCount, budget: try modelArguments.budget())
        let rules = try explainArguments.ruleSet(for: explainer, graph: graph, input: x, preprocessing: preprocessing)
        let e = try explainer.explain(x.sample(0), target: try explainArguments.resolveTarget(labels: graph.metadata.labels),
                                      rules: rules)
        // A folded batch norm's conv now outputs the norm's tensor: look up the node by name too.
        let tensor = e.layers[node.output] != nil ? node.output : (explainer.graph.node(named: node.name)?.output ?? node.output)
        guard let r = e.layers[tensor] else {
            throw SRError.usage("no relevance reaches layer '\(node.name)' (it does not lead to the output)")
        }
        return RelevanceStatistics(r)
    }
}

/// `inspect --json` (whole model). Field names are part of the CLI contract.
struct ModelReport: Encodable {
    struct IO: Encodable { var name: String; var shape: [Int] }
    struct Layer: Encodable {
        var index: Int
        var name: String
        var op: String
        var inputs: [String]
        var outputs: [String]
        var input_shapes: [[Int]]
        var output_shape: [Int]
        var parameters: Int
        var macs: Int
    }
    /// `activation_bytes`: the forward pass's peak for one image (a backward pass holds twice as much).
    struct Totals: Encodable { var layers: Int; var parameters: Int; var macs: Int; var activationBytes: Int }
    struct Budget: Encodable { var maxMacs: Int; var maxMemory: Int }

    var model: String
    var format: String
    var preprocess: String?
    var labels: Int?
    var inputs: [IO]
    var outputs: [IO]
    var layers: [Layer]
    var totals: Totals
    var budget: Budget

    init(model: String, graph: Graph, rows: [LayerSummary], budget: RunBudget) {
        let shapes = (try? graph.inferShapes()) ?? [:]
        self.model = model
        format = graph.metadata.sourceFormat
        preprocess = graph.metadata.preprocess
        labels = graph.metadata.labels?.count
        inputs = graph.inputs.map { IO(name: $0.name, shape: $0.shape) }
        outputs = graph.outputs.map { IO(name: $0, shape: shapes[$0] ?? []) }
        layers = rows.map {
            Layer(index: $0.index, name: $0.node.name, op: $0.node.op.name, inputs: $0.node.inputs, outputs: $0.node.outputs,
                  input_shapes: $0.inputShapes, output_shape: $0.outputShape, parameters: $0.parameters, macs: $0.macs)
        }
        totals = Totals(layers: rows.count, parameters: graph.weights.values.reduce(0) { $0 + $1.count },
                        macs: graph.totalMACs(shapes: shapes),
                        activationBytes: MemoryPlan(graph: graph, shapes: (try? graph.inferShapes(batch: 1)) ?? shapes, keepAll: false).peakBytes)
        self.budget = Budget(maxMacs: budget.maxMACs, maxMemory: budget.maxMemory)
    }

    var text: String {
        let e = Escape.terminal
        var lines = ["model: \(e(model)) (\(format)\(preprocess.map { ", preprocess \($0)" } ?? "")\(labels.map { ", \($0) labels" } ?? ""))"]
        for i in inputs { lines.append("input:  \(e(i.name)) \(shapeText(i.shape))") }
        for o in outputs { lines.append("output: \(e(o.name)) \(shapeText(o.shape))") }
        lines.append("")
        var table = [["#", "name", "op", "input → output", "params", "MACs"]]
        for l in layers {
            let ins = l.input_shapes.map(shapeText).joined(separator: " ")
            table.append(["\(l.index)", l.name, l.op, "\(ins) → \(shapeText(l.output_shape))",
                          grouped(l.parameters), grouped(l.macs)])
        }
        lines.append(contentsOf: formatTable(table, rightAligned: [0, 4, 5]))
        lines.append("")
        lines.append("total: \(totals.layers) layers, \(grouped(totals.parameters)) parameters, \(grouped(totals.macs)) MACs per image")
        lines.append("run budget: \(grouped(budget.maxMacs)) MACs per image (--max-macs), \(byteSize(budget.maxMemory)) of activations (--max-memory); "
                     + "this model's forward pass peaks at \(byteSize(totals.activationBytes)) per image, a backward pass at twice that")
        return lines.joined(separator: "\n")
    }
}

/// `inspect --layer NAME [--json]`.
struct LayerReport: Encodable {
    struct Weight: Encodable {
        var role: String
        var name: String
        var shape: [Int]
        var stats: TensorStatistics
    }
    var index: Int
    var name: String
    var op: String
    var inputs: [String]
    var outputs: [String]
    var input_shapes: [[Int]]
    var output_shape: [Int]
    var attributes: [String: AttributeValue]
    var attribute_order: [String]
    var parameters: Int
    var macs: Int
    var weights: [Weight]
    var relevance: RelevanceStatistics?

    init(_ row: LayerSummary, graph: Graph) {
        let node = row.node
        index = row.index; name = node.name; op = node.op.name
        inputs = node.inputs; outputs = node.outputs
        input_shapes = row.inputShapes; output_shape = row.outputShape
        let attrs = node.op.attributes
        attributes = Dictionary(attrs, uniquingKeysWith: { a, _ in a })
        attribute_order = attrs.map(\.0)
        parameters = row.parameters; macs = row.macs
        let roles = node.op.paramRoles
        weights = (roles.required + roles.optional).compactMap { role in
            guard let w = node.params[role], let t = graph.weights[w] else { return nil }
            return Weight(role: role, name: w, shape: t.shape, stats: TensorStatistics(t))
        }
    }

    var text: String {
        let e = Escape.terminal
        var lines = ["layer \(index): \(e(name)) (\(op))",
                     "  inputs:  " + zip(inputs, input_shapes).map { "\(e($0)) \(shapeText($1))" }.joined(separator: ", "),
                     "  outputs: " + outputs.map { "\(e($0)) \(shapeText(output_shape))" }.joined(separator: ", ")]
        for key in attribute_order {
            if let v = attributes[key] { lines.append("  \(key): \(v)") }
        }
        lines.append("  parameters: \(grouped(parameters)), MACs: \(grouped(macs))")
        if !weights.isEmpty {
            lines.append("")
            var table = [["weight", "name", "shape", "min", "max", "mean", "std", "zeros"]]
            for w in weights {
                let s = w.stats
                table.append([w.role, w.name, shapeText(w.shape), number(s.min), number(s.max), number(Float(s.mean)),
                              number(Float(s.std)), String(format: "%.1f%%", s.zeros * 100)])
            }
            lines.append(contentsOf: formatTable(table, rightAligned: [3, 4, 5, 6, 7]))
            for w in weights where w.stats.nonFinite > 0 {
                lines.append("  warning: \(e(w.name)) holds \(w.stats.nonFinite) NaN/Inf value(s)")
            }
        }
        if let r = relevance {
            lines.append("")
            lines.append("  relevance: Σ \(number(Float(r.sum))), positive \(number(Float(r.positive))), negative \(number(Float(r.negative))) "
                         + String(format: "(%.1f%% of |R| positive)", r.positiveShare * 100))
            lines.append("  top channels: " + r.topChannels.map { "\($0.index) (\(number(Float($0.sum))))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
