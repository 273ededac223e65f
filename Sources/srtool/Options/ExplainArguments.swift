import ArgumentParser
import SRCore
import SRExplain
import SRImage
import SRRender

/// Options choosing what to explain and with which rules (`explain`, `verify`).
struct ExplainArguments: ParsableArguments {
    @Option(help: "LRP composite (default: epsilon-plus-flat; sr-paper for --method sr).")
    var composite: CompositeChoice?

    @Option(parsing: .unconditional, help: "Class to explain: top (default), a 0-based index, or a label.")
    var target: String = "top"

    @Option(name: .customLong("rule"), help: ArgumentHelp("Override one layer's rule, LAYER=RULE[:params] (LAYER: name, tensor or # from inspect; RULE: \(RuleParser.names.joined(separator: ", "))); repeatable.", valueName: "layer=rule"))
    var rules: [String] = []

    @Option(name: .customLong("sum-rule"), help: ArgumentHelp("Rule for additions of activations: norm (zennit's, the default) or norm-plus (split by positive parts; for pre-activation ResNets, whose shortcut and branch have opposite signs).", valueName: "rule"))
    var sumRule: SumRuleChoice?

    enum SumRuleChoice: String, ExpressibleByArgument, CaseIterable { case norm, normPlus = "norm-plus" }

    @Option(parsing: .unconditional, help: "ε of the ε-rule (composites' dense layers; default 1e-6).")
    var epsilon: Float?

    @Option(parsing: .unconditional, help: "γ of the γ-rule (epsilon-gamma-box; default 0.25).")
    var gamma: Float?

    @Option(parsing: .unconditional, help: ArgumentHelp("Lowest input value per channel for z^B (default: from the preprocessing, else the input's minimum).", visibility: .hidden))
    var low: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Highest input value per channel for z^B (default: from the preprocessing, else the input's maximum).", visibility: .hidden))
    var high: String?

    func resolveTarget(labels: [String]?) throws -> Target {
        if target == "top" { return .top }
        if let k = Int(target) { return .index(k) }
        if let labels, let k = labels.firstIndex(of: target) { return .index(k) }
        throw SRError.usage("--target '\(target)' is not 'top', an index, or a known label")
    }

    /// The composite's name: `--composite`, else the method's default.
    func compositeName(for method: MethodChoice) -> String { composite?.name ?? method.method.defaultComposite }

    /// The LRP options that were set although `method` does not use a composite.
    func ignored(by method: MethodChoice) -> [String] {
        guard !method.usesComposite else { return [] }
        return [("--composite", composite != nil), ("--rule", !rules.isEmpty), ("--sum-rule", sumRule != nil), ("--epsilon", epsilon != nil),
                ("--gamma", gamma != nil), ("--low", low != nil), ("--high", high != nil)].filter(\.1).map(\.0)
    }

    /// The rule set for the explainer's (canonized) graph; `graph` is the model as loaded,
    /// whose layer numbers `inspect` shows.
    func ruleSet(for explainer: Explainer, graph: Graph, input: Tensor, preprocessing: Preprocessing?,
                 method: MethodChoice = .lrp) throws -> RuleSet {
        let name = compositeName(for: method)
        guard let c = Composite.named(name) else { throw SRError.internalError("no composite '\(name)'") }
        var o = CompositeOptions()
        o.epsilon = epsilon ?? o.epsilon
        o.gamma = gamma ?? o.gamma
        o.sumsByPositiveParts = sumRule == .normPlus
        let (lo, hi) = bounds(input: input, preprocessing: preprocessing)
        o.low = try low.map { try parseFloats($0, option: "--low") } ?? lo
        o.high = try high.map { try parseFloats($0, option: "--high") } ?? hi
        for r in rules {
            guard let eq = r.firstIndex(of: "=") else { throw SRError.usage("--rule expects LAYER=RULE, got '\(r)'") }
            let node = try graph.resolveLayer(String(r[..<eq]), option: "--rule")
            // A batch norm folded into its conv is gone from the explainer's graph: its
            // rule goes to the conv that now outputs its tensor.
            let name = explainer.graph.node(named: node.name)?.name
                ?? explainer.graph.nodes.first(where: { $0.outputs.contains(node.output) })?.name ?? node.name
            o.overrides[name] = try RuleParser.parse(String(r[r.index(after: eq)...]))
        }
        return try c.rules(for: explainer.graph, options: o)
    }

    /// z^B bounds: what pixel values 0 and 255 become after preprocessing, else the input's range.
    private func bounds(input: Tensor, preprocessing p: Preprocessing?) -> ([Float], [Float]) {
        if let p {
            let lo = p.mean.indices.map { (0 * p.scale - p.mean[$0]) / p.std[$0] }
            let hi = p.mean.indices.map { (255 * p.scale - p.mean[$0]) / p.std[$0] }
            return (zip(lo, hi).map { min($0, $1) }, zip(lo, hi).map { max($0, $1) })
        }
        return ([input.buffer.min() ?? 0], [input.buffer.max() ?? 0])
    }
}
