import SRCore

/// The conservation audit of one explained image: at every node, the relevance that
/// arrived at its output, what it passed to its inputs, and what it absorbed (biases,
/// stabiliser, the negative αβ part, or a non-conserving rule such as a plain gradient).
public struct ConservationAudit: Sendable {
    public struct Layer: Sendable {
        public var index: Int
        public var node: String
        public var op: String
        public var rule: String
        /// Σ relevance at the node's output.
        public var relevanceOut: Double
        /// Σ relevance the node passed to its inputs.
        public var relevanceIn: Double
        /// `relevanceOut − relevanceIn`.
        public var absorbed: Double { relevanceOut - relevanceIn }
        /// Σ relevance at the output relative to the start value: `out/start − 1`.
        public var deviationFromStart: Double
        /// Whether the rule at this node should conserve relevance, as it declares (`Rule.conserves`).
        public var shouldConserve: Bool
        public var ok: Bool
    }

    public var target: Int
    public var start: Double
    /// Σ relevance at the graph input.
    public var inputRelevance: Double
    public var layers: [Layer]
    public var tolerance: Double
    public var passed: Bool { layers.allSatisfy(\.ok) }
}

extension Explainer {
    /// Explains every image and audits each layer: a layer whose rule should conserve fails
    /// when `|Σ R_out − Σ R_in| > tolerance · |start|`. Each layer's sums are taken as the
    /// backward pass goes, so `retention` decides alone which signals stay in memory.
    public func audit(_ input: Tensor, target: Target, rules: RuleSet, tolerance: Double,
                      retention: Retention = .everyLayer) throws -> (Explanation, [ConservationAudit]) {
        let n = input.shape[0]
        func sum(_ t: Tensor, _ image: Int) -> Double {
            let per = t.count / max(t.shape[0], 1)
            var s = 0.0
            for i in 0..<per { s += Double(t.pointer[image * per + i]) }
            return s
        }
        /// Per node: Σ R_out and Σ R_in of each image.
        var flows: [(node: Node, rule: Rule, out: [Double], in: [Double])] = []
        let explanation = try explain(input, target: target, rules: rules, retention: retention) { node, rule, out, back in
            flows.append((node, rule, (0..<n).map { sum(out, $0) },
                          (0..<n).map { image in back.reduce(0.0) { $0 + ($1.map { sum($0, image) } ?? 0) } }))
        }
        let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
        let inputName = graph.inputs.first?.name ?? ""
        let audits = (0..<n).map { image -> ConservationAudit in
            let start = Double(explanation.startValues[image])
            let layers = flows.reversed().map { node, rule, out, back -> ConservationAudit.Layer in
                let (rOut, rIn) = (out[image], back[image])
                let conserve = rule.conserves(at: node, in: graph)
                let ok = !conserve || abs(rOut - rIn) <= tolerance * max(abs(start), 1e-12)
                return ConservationAudit.Layer(index: index[node.name] ?? -1, node: node.name, op: node.op.name, rule: rule.name,
                                               relevanceOut: rOut, relevanceIn: rIn,
                                               deviationFromStart: start != 0 ? rOut / start - 1 : 0,
                                               shouldConserve: conserve, ok: ok)
            }
            let inputSum = explanation.layers[inputName].map { sum($0, image) } ?? 0
            return ConservationAudit(target: explanation.targets[image], start: start, inputRelevance: inputSum,
                                     layers: layers, tolerance: tolerance)
        }
        return (explanation, audits)
    }
}
