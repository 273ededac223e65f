import ArgumentParser
import SRCore
import SRExplain
import SRRender

/// Options choosing what to explain and with which rules (`explain`, `verify`).
struct ExplainArguments: ParsableArguments {
    @Option(help: ArgumentHelp("LRP composite: \(Composite.all.map(\.name).joined(separator: ", ")) (default: epsilon-plus-flat; sr-paper for --method sr).", valueName: "composite"))
    var composite: String?

    @Option(parsing: .unconditional, help: "Class to explain: top (default), a 0-based index, or a label.")
    var target: String = "top"

    @Option(name: .customLong("rule"), help: ArgumentHelp("Override one layer's rule, LAYER=RULE[:params] (\(RuleParser.names.joined(separator: ", "))); repeatable.", valueName: "layer=rule"))
    var rules: [String] = []

    @Option(parsing: .unconditional, help: "ε of the ε-rule (composites' dense layers).")
    var epsilon: Float = 1e-6

    @Option(parsing: .unconditional, help: "γ of the γ-rule (epsilon-gamma-box).")
    var gamma: Float = 0.25

    @Option(parsing: .unconditional, help: "Lowest input value per channel for z^B (default: from the preprocessing, else the input's minimum).")
    var low: String?

    @Option(parsing: .unconditional, help: "Highest input value per channel for z^B (default: from the preprocessing, else the input's maximum).")
    var high: String?

    func resolveTarget(labels: [String]?) throws -> Target {
        if target == "top" { return .top }
        if let k = Int(target) { return .index(k) }
        if let labels, let k = labels.firstIndex(of: target) { return .index(k) }
        throw SRError.usage("--target '\(target)' is not 'top', an index, or a known label")
    }

    /// The rule set for the explainer's (canonized) graph.
    func ruleSet(for explainer: Explainer, input: Tensor, preprocessing: Preprocessing?,
                 defaultComposite: String = "epsilon-plus-flat") throws -> RuleSet {
        let name = composite ?? defaultComposite
        guard let c = Composite.named(name) else {
            throw SRError.usage("unknown composite '\(name)' (known: \(Composite.all.map(\.name).joined(separator: ", ")))")
        }
        var o = CompositeOptions()
        o.epsilon = epsilon
        o.gamma = gamma
        let (lo, hi) = bounds(input: input, preprocessing: preprocessing)
        o.low = try low.map { try parseFloats($0, option: "--low") } ?? lo
        o.high = try high.map { try parseFloats($0, option: "--high") } ?? hi
        for r in rules {
            guard let eq = r.firstIndex(of: "=") else { throw SRError.usage("--rule expects LAYER=RULE, got '\(r)'") }
            let layer = String(r[..<eq])
            guard explainer.graph.node(named: layer) != nil || explainer.graph.nodes.contains(where: { $0.inputs.contains(layer) }) else {
                throw SRError.usage("--rule: no layer named '\(layer)'")
            }
            let name = explainer.graph.node(named: layer)?.name ?? layer
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

/// Options for the picture `explain` writes; unset ones take the method's defaults.
struct RenderArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Colour map: \(Colormap.all.map(\.name).joined(separator: ", ")), or a spec (default: the method's).", valueName: "name"))
    var cmap: String?

    @Option(help: ArgumentHelp("Normalisation: symmetric (0 at the centre), absolute, unaligned (default: the method's).", valueName: "mode"))
    var normalization: String?

    @Option(help: ArgumentHelp("Channel reduction: sum, max-abs, l2 (default: the method's).", valueName: "mode"))
    var reduce: String?

    @Option(name: .customLong("clip-percentile"), help: "Clip |values| above this percentile before normalising (e.g. 99).")
    var clipPercentile: Float?

    @Flag(help: "Blend the heatmap over the input image.")
    var overlay = false

    @Option(help: "Heatmap opacity with --overlay.")
    var alpha: Float = 0.6

    func validate() throws {
        if let normalization, Normalization(rawValue: normalization) == nil {
            throw ValidationError("--normalization must be one of \(Normalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let reduce, Heatmap.Reduction(rawValue: reduce) == nil {
            throw ValidationError("--reduce must be one of \(Heatmap.Reduction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard alpha >= 0 && alpha <= 1 else { throw ValidationError("--alpha must lie in [0, 1]") }
        if let p = clipPercentile, !(p > 0 && p <= 100) { throw ValidationError("--clip-percentile must lie in (0, 100]") }
    }

    func settings(for m: Method) throws -> (colormap: Colormap, normalization: Normalization, reduction: Heatmap.Reduction) {
        (try Colormap.named(cmap ?? m.colormap), Normalization(rawValue: normalization ?? m.normalization) ?? .symmetric,
         Heatmap.Reduction(rawValue: reduce ?? m.reduction) ?? .sum)
    }
}
