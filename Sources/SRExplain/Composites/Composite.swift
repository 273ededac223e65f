import SRCore

/// Parameters composites take (zennit's defaults).
public struct CompositeOptions: Sendable {
    public var epsilon: Float = 1e-6
    public var gamma: Float = 0.25
    public var stabilizer: Float = 1e-6
    /// ZBox bounds: the lowest and highest input value per channel (or one for all).
    public var low: [Float] = [-3]
    public var high: [Float] = [3]
    /// Additions of activations by `SumPlus` instead of the composite's rule (`--sum-rule norm-plus`).
    public var sumsByPositiveParts = false
    /// Per-node rule overrides (`--rule LAYER=RULE`), by node or output tensor name.
    public var overrides: [String: Rule] = [:]
    public init() {}
}

/// A named table: op kind → rule, with an optional special rule for the first conv/linear
/// layer (zennit's `LayerMapComposite` / `SpecialFirstLayerMapComposite`).
public struct Composite: Sendable {
    public let name: String
    public let summary: String
    let build: @Sendable (CompositeOptions) throws -> Table

    struct Table: Sendable {
        var conv: Rule?
        var dense: Rule?
        /// Rule of the first layer matching `firstKinds` in network order.
        var first: Rule?
        var firstIncludesDense = false
        var activation: Rule?
        var sum: Rule?
        var avgPool: Rule?
        var batchNorm: Rule?
        var lrn: Rule?
        var relu: Rule?
        /// Element-wise products of activations (gates, `x·σ(x)` left unfused).
        var product: Rule?
        /// Layer norm (nil: `batchNorm`'s rule), softmax and products of two activations
        /// (nil: their gradient) — the attention composites set them.
        var layerNorm: Rule?
        var softmax: Rule?
        var matmul: Rule?
        /// Linear layers that project into or out of attention (`AttentionProjections`);
        /// nil: `dense`.
        var attentionDense: Rule?
    }

    /// Whether the composite has rules of its own for attention (products of two
    /// activations, softmax, layer norm) rather than their gradient: the AttnLRP family.
    public var explainsAttention: Bool { (try? build(CompositeOptions()))?.matmul != nil }

    /// The rule set for `graph` (already canonized).
    public func rules(for graph: Graph, options: CompositeOptions) throws -> RuleSet {
        var table = try build(options)
        if options.sumsByPositiveParts { table.sum = SumPlus(stabilizer: options.stabilizer) }
        let t = table
        let firstNode = graph.nodes.first { node in
            switch node.op {
            case .conv2d: return true
            case .linear: return t.firstIncludesDense
            default: return false
            }
        }?.name
        let overrides = options.overrides
        let override: @Sendable (Node) -> Rule? = { node in
            overrides[node.name] ?? node.outputs.lazy.compactMap({ overrides[$0] }).first
        }
        // A rule put on a layer it cannot explain is refused before anything runs.
        for node in graph.nodes { try override(node)?.check(node) }
        let gradient = Gradient()
        let projections = t.attentionDense == nil ? [] : AttentionProjections.names(in: graph)
        return RuleSet { node in
            if let r = override(node) { return r }
            if node.name == firstNode, let f = t.first { return f }
            let chosen: Rule?
            switch node.op {
            case .conv2d: chosen = t.conv
            case .linear: chosen = projections.contains(node.name) ? t.attentionDense : t.dense
            case .relu: chosen = t.relu ?? t.activation
            case .prelu, .sigmoid, .tanh, .power, .thresholdedRelu, .clip, .unary: chosen = t.activation
            case .add: chosen = t.sum
            case .avgPool2d, .globalAvgPool: chosen = t.avgPool
            case .reduce(let a): chosen = a.kind == .mean || a.kind == .sum ? t.avgPool : nil
            case .batchNorm, .scale: chosen = t.batchNorm
            case .layerNorm: chosen = t.layerNorm ?? t.batchNorm
            case .lrn: chosen = t.lrn
            case .mul: chosen = t.product.map { $0 is ProductRule ? ProductRule(gates: PooledGates.inputs(of: node, in: graph)) : $0 }
            case .matmul: chosen = t.matmul
            case .softmax: chosen = t.softmax
            case .maxPool2d, .globalMaxPool, .max, .concat, .flatten, .reshape, .pad, .identity,
                 .transpose, .slice, .batchConstant, .convTranspose2d, .resize:
                chosen = nil
            }
            return chosen ?? gradient
        }
    }
}

extension Composite {
    /// zennit's `layer_map_base`: activations pass, sums and average pooling normalise, batch
    /// norm passes; srtool adds LRN → pass.
    static func base(_ o: CompositeOptions, conv: Rule, dense: Rule, first: Rule? = nil, firstIncludesDense: Bool = false) -> Table {
        Table(conv: conv, dense: dense, first: first, firstIncludesDense: firstIncludesDense, activation: Pass(),
              sum: Norm(stabilizer: o.stabilizer), avgPool: Norm(stabilizer: o.stabilizer), batchNorm: Pass(), lrn: Pass(),
              product: ProductRule())
    }

    /// AttnLRP and CP-LRP as LXT 2.1 applies them (docs/attnlrp-reference.md): LRP-0 on conv
    /// and linear layers (LXT's ε = 0; srtool divides by z ± 1e-12), the identity rule on
    /// element-wise activations, layer norm with a constant σ, sums split in proportion;
    /// `attention`: AttnLRP's uniform matmul and softmax by gradient × input, or CP-LRP's
    /// attention weights as constants.
    /// `gamma`: zennit's γ-rule (γ 0.25 on convolutions, 0.05 on linear layers outside the
    /// attention; stabiliser 1e-6) as LXT's ViT example adds it, attention projections LRP-0.
    static func attention(_ o: CompositeOptions, constantAttention: Bool, gamma: Bool = false) -> Table {
        let tiny: Float = 1e-12
        var t = gamma ? base(o, conv: LRP.gamma(0.25, stabilizer: 1e-6), dense: LRP.gamma(0.05, stabilizer: 1e-6))
                      : base(o, conv: LRP.epsilon(tiny), dense: LRP.epsilon(tiny))
        if gamma { t.attentionDense = LRP.epsilon(tiny) }
        t.sum = Norm(stabilizer: tiny)
        t.avgPool = Norm(stabilizer: tiny)
        t.layerNorm = LayerNormRule(stabilizer: tiny)
        t.softmax = SoftmaxRule()
        t.matmul = MatMulRule(constantAttention ? .constantAttention : .uniform, stabilizer: tiny)
        return t
    }

    /// The registry: every composite `--composite` accepts, with zennit's names in kebab-case.
    public static let all: [Composite] = [
        Composite(name: "attnlrp", summary: "AttnLRP as LXT: LRP-0, identity on activations, uniform matmul, softmax g×x") { o in
            attention(o, constantAttention: false)
        },
        Composite(name: "cp-lrp", summary: "CP-LRP as LXT: AttnLRP with the attention weights as constants") { o in
            attention(o, constantAttention: true)
        },
        Composite(name: "attnlrp-gamma", summary: "attnlrp with zennit γ (conv 0.25, linear 0.05) outside the attention") { o in
            attention(o, constantAttention: false, gamma: true)
        },
        Composite(name: "cp-lrp-gamma", summary: "cp-lrp with zennit γ (conv 0.25, linear 0.05), as LXT's ViT example") { o in
            attention(o, constantAttention: true, gamma: true)
        },
        Composite(name: "epsilon-plus", summary: "conv z⁺, dense ε") { o in
            base(o, conv: LRP.zPlus(stabilizer: o.stabilizer), dense: LRP.epsilon(o.epsilon))
        },
        Composite(name: "epsilon-plus-flat", summary: "conv z⁺, dense ε, first layer flat") { o in
            base(o, conv: LRP.zPlus(stabilizer: o.stabilizer), dense: LRP.epsilon(o.epsilon),
                 first: LRP.flat(stabilizer: o.stabilizer), firstIncludesDense: true)
        },
        Composite(name: "epsilon-gamma-box", summary: "conv γ (0.25), dense ε, first conv z^B (--low/--high)") { o in
            base(o, conv: LRP.gamma(o.gamma, stabilizer: o.stabilizer), dense: LRP.epsilon(o.epsilon),
                 first: LRP.zBox(low: o.low, high: o.high, stabilizer: o.stabilizer))
        },
        Composite(name: "epsilon-alpha2-beta1", summary: "conv α2β1, dense ε") { o in
            base(o, conv: try LRP.alphaBeta(stabilizer: o.stabilizer), dense: LRP.epsilon(o.epsilon))
        },
        Composite(name: "epsilon-alpha2-beta1-flat", summary: "conv α2β1, dense ε, first layer flat") { o in
            base(o, conv: try LRP.alphaBeta(stabilizer: o.stabilizer), dense: LRP.epsilon(o.epsilon),
                 first: LRP.flat(stabilizer: o.stabilizer), firstIncludesDense: true)
        },
        Composite(name: "excitation-backprop", summary: "conv and dense z⁺, sums and average pooling normalised, the rest gradient") { o in
            Table(conv: LRP.zPlus(stabilizer: o.stabilizer), dense: LRP.zPlus(stabilizer: o.stabilizer),
                  sum: Norm(stabilizer: o.stabilizer), avgPool: Norm(stabilizer: o.stabilizer))
        },
        Composite(name: "sr-paper", summary: "Salient Relevance paper: dense z⁺, conv LRP-0 (stabiliser 1e-9), ReLU pass") { o in
            base(o, conv: LRP.epsilon(1e-9), dense: LRP.zPlus(stabilizer: o.stabilizer))
        },
        Composite(name: "guided-backprop", summary: "gradient with guided ReLUs (Springenberg)") { _ in
            Table(relu: ReLURule(.guided))
        },
        Composite(name: "deconvnet", summary: "gradient with deconvnet ReLUs (Zeiler & Fergus)") { _ in
            Table(relu: ReLURule(.deconvnet))
        },
        Composite(name: "gradient", summary: "the plain gradient everywhere") { _ in Table() },
    ]

    public static func named(_ name: String) -> Composite? { all.first { $0.name == name } }
}
