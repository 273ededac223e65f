import SRCore
import SRRuntime
import SRSaliency

/// Parameters of the explanation methods (`explain` options).
public struct MethodOptions: Sendable {
    /// The LRP rule set (lrp) — also fixes the ReLU rule of the gradient family.
    public var rules: RuleSet = RuleSet { _ in Gradient() }
    public var samples = 20
    public var noise: Float = 0.1
    public var seed: UInt64 = 0
    public var steps = 50
    public var integration: IntegrationMethod = .gaussLegendre
    public var baseline: Tensor?
    public var window = 8
    public var stride = 4
    public var batch = 16
    /// Grad-CAM's layer (a tensor name), `all`, or nil for the last convolution.
    public var layer: String?
    /// Salient Relevance (sr): the context-aware saliency detector and the longer side of
    /// the image it works on.
    public var saliency = ContextAwareSaliency()
    public var workingSize = 250
    /// Whether the LRP methods return the relevance at every layer (`MethodResult.layers`);
    /// otherwise each layer's is freed as soon as the backward pass is past it.
    public var keepsLayers = false
    var retention: Retention { keepsLayers ? .everyLayer : .tensors([]) }
    /// Told the fraction done by the methods that run long (smoothgrad, ig, occlusion, sr).
    public var progress: (@Sendable (Double) -> Void)?
    public init() {}
}

/// One attribution map a method produced.
public struct AttributionMap: @unchecked Sendable {
    /// The raw map as the reference tools return it: `[N, C, H, W]` at the input for
    /// input-space methods, `[N, 1, h, w]` at the layer for CAM and Grad-CAM (no ReLU).
    public var raw: Tensor
    /// What the heatmap shows, at the input's size (`[N, C, H, W]` or `[N, 1, H, W]`).
    public var display: Tensor
    /// The layer a CAM-type map belongs to.
    public var layer: String?

    public init(raw: Tensor, display: Tensor, layer: String?) {
        self.raw = raw; self.display = display; self.layer = layer
    }
}

/// What a method returns: its maps, the model's output and the class explained per image,
/// and (LRP) the relevance at every tensor.
public struct MethodResult: @unchecked Sendable {
    public var maps: [AttributionMap]
    public var classified: Classified
    public var layers: [String: Tensor]?
}

/// An explanation method: how to compute the map and how it is shown by default.
public struct Method: Sendable {
    public let name: String
    public let summary: String
    /// Default channel reduction (`sum`, `max-abs`, `l2`), normalisation and colour map.
    public let reduction: String
    public let normalization: String
    public let colormap: String
    /// Whether the `--composite` rule set applies (LRP).
    public let usesComposite: Bool
    /// The composite used when none is chosen (methods that use one).
    public var defaultComposite = "epsilon-plus-flat"
    /// Whether the context-aware saliency options (`MethodOptions.saliency`, `workingSize`) apply.
    public var usesSaliency = false
    let compute: @Sendable (Explainer, Tensor, Target, MethodOptions) throws -> MethodResult

    public func run(_ e: Explainer, _ x: Tensor, target: Target, options: MethodOptions) throws -> MethodResult {
        try e.parallel { try compute(e, x, target, options) }
    }

    /// The result of a backward pass, its scores (the logits it started from) read from its
    /// own forward pass.
    private static func result(_ maps: [AttributionMap], _ e: Explanation, layers: Bool = false) throws -> MethodResult {
        guard let scores = e.activations[e.startTensor] else {
            throw SRError.internalError("no model output")
        }
        return MethodResult(maps: maps, classified: try Classified(scores: scores, target: .top).with(targets: e.targets),
                            layers: layers ? e.layers : nil)
    }

    private static func inputSpace(_ t: Tensor) -> AttributionMap { AttributionMap(raw: t, display: t, layer: nil) }

    private static func relu(_ t: Tensor) -> Tensor { Kernels.positivePart(t) }

    /// The registry of `--method` values.
    public static let all: [Method] = [
        Method(name: "lrp", summary: "layer-wise relevance propagation with --composite (zennit)", reduction: "sum",
               normalization: "symmetric", colormap: "coldnhot", usesComposite: true) { e, x, t, o in
            let r = try e.explain(x, target: t, rules: o.rules, retention: o.retention)
            return try result([inputSpace(r.input)], r, layers: o.keepsLayers)
        },
        Method(name: "gradient", summary: "∂logit/∂x (Simonyan et al.); heatmap max over channels of |g|", reduction: "max-abs",
               normalization: "absolute", colormap: "hot", usesComposite: false) { e, x, t, _ in
            let r = try e.gradient(x, target: t, rules: RuleSet { _ in Gradient() })
            return try result([inputSpace(r.input)], r)
        },
        Method(name: "gradxinput", summary: "gradient × input", reduction: "sum", normalization: "symmetric",
               colormap: "coldnhot", usesComposite: false) { e, x, t, _ in
            let r = try e.gradient(x, target: t, rules: RuleSet { _ in Gradient() })
            return try result([inputSpace(Kernels.combine([r.input, x], outShape: x.shape, .mul))], r)
        },
        Method(name: "deconvnet", summary: "deconvnet (Zeiler & Fergus): ReLUs pass the positive signal",
               reduction: "max-abs", normalization: "absolute", colormap: "hot", usesComposite: false) { e, x, t, _ in
            let r = try e.gradient(x, target: t, rules: RuleSet { node in
                if case .relu = node.op { return ReLURule(.deconvnet) }
                return Gradient()
            })
            return try result([inputSpace(r.input)], r)
        },
        Method(name: "guided", summary: "guided backprop (Springenberg et al.)", reduction: "max-abs",
               normalization: "absolute", colormap: "hot", usesComposite: false) { e, x, t, _ in
            let r = try e.gradient(x, target: t, rules: guidedRules)
            return try result([inputSpace(r.input)], r)
        },
        Method(name: "smoothgrad", summary: "mean gradient over noisy copies (--samples, --noise, --seed)",
               reduction: "max-abs", normalization: "absolute", colormap: "hot", usesComposite: false) { e, x, t, o in
            let c = try e.classify(x, t)
            let g = try e.smoothGrad(x, c, samples: o.samples, noise: o.noise, seed: o.seed, batch: o.batch, progress: o.progress)
            return MethodResult(maps: [inputSpace(g)], classified: c)
        },
        Method(name: "ig", summary: "integrated gradients (--steps, --baseline, --integration)", reduction: "sum",
               normalization: "symmetric", colormap: "coldnhot", usesComposite: false) { e, x, t, o in
            let c = try e.classify(x, t)
            let g = try e.integratedGradients(x, baseline: o.baseline, c, steps: o.steps, method: o.integration, batch: o.batch,
                                              progress: o.progress)
            return MethodResult(maps: [inputSpace(g)], classified: c)
        },
        Method(name: "occlusion", summary: "drop of the logit when a --window patch is zeroed (--stride)", reduction: "sum",
               normalization: "symmetric", colormap: "coldnhot", usesComposite: false) { e, x, t, o in
            let c = try e.classify(x, t)
            let g = try e.occlusion(x, c, window: o.window, stride: o.stride, baseline: 0, batch: o.batch, progress: o.progress)
            return MethodResult(maps: [inputSpace(g)], classified: c)
        },
        Method(name: "cam", summary: "class activation map (Zhou et al.): GAP + linear networks", reduction: "sum",
               normalization: "unaligned", colormap: "jet", usesComposite: false) { e, x, t, _ in
            let (m, layer, c) = try e.cam(x, target: t)
            let shown = Kernels.resizeBilinear(relu(m), height: x.shape[2], width: x.shape[3])
            return MethodResult(maps: [AttributionMap(raw: m, display: shown, layer: layer)], classified: c)
        },
        Method(name: "gradcam", summary: "Grad-CAM (Selvaraju et al.) at --layer (default: last conv; all: every conv)",
               reduction: "sum", normalization: "unaligned", colormap: "jet", usesComposite: false) { e, x, t, o in
            let layers = o.layer == "all" ? e.convolutions : [o.layer ?? e.lastConvolution].compactMap { $0 }
            guard !layers.isEmpty else { throw SRError.unsupported("the model has no convolution for Grad-CAM") }
            let runs = try layers.map { layer in (layer, try e.gradCAM(x, target: t, layer: layer)) }
            // Grad-CAM is ReLU(Σ_k α_k A_k) (Selvaraju et al.): the saved map too.
            let maps = runs.map { layer, r in
                let map = relu(r.map)
                return AttributionMap(raw: map, display: Kernels.resizeBilinear(map, height: x.shape[2], width: x.shape[3]), layer: layer)
            }
            return try result(maps, runs[0].1.explanation)
        },
        Method(name: "guided-gradcam", summary: "guided backprop × Grad-CAM upsampled to the input (nearest, as Captum)", reduction: "max-abs",
               normalization: "absolute", colormap: "hot", usesComposite: false) { e, x, t, o in
            guard let layer = o.layer ?? e.lastConvolution else { throw SRError.unsupported("the model has no convolution for Grad-CAM") }
            let cam = Kernels.resizeNearest(relu(try e.gradCAM(x, target: t, layer: layer).map), height: x.shape[2], width: x.shape[3])
            let guided = try e.gradient(x, target: t, rules: guidedRules)
            let product = Kernels.combine([guided.input, cam], outShape: x.shape, .mul)
            return try result([AttributionMap(raw: product, display: product, layer: layer)], guided)
        },
        Method(name: "sr", summary: "Salient Relevance (Li et al.): LRP with --composite, then context-aware saliency of |R|",
               reduction: "sum", normalization: "unaligned", colormap: "hot", usesComposite: true, defaultComposite: "sr-paper",
               usesSaliency: true) { e, x, t, o in
            let r = try e.explain(x, target: t, rules: o.rules, retention: o.retention)
            let sr = try SalientRelevance.maps(r.input, saliency: o.saliency, workingSize: o.workingSize, progress: o.progress)
            return try result([inputSpace(sr)], r, layers: o.keepsLayers)
        },
    ]

    static let guidedRules = RuleSet { node in
        if case .relu = node.op { return ReLURule(.guided) }
        return Gradient()
    }

    public static func named(_ name: String) -> Method? { all.first { $0.name == name } }

    /// What a user should know before trusting this method's map on `graph`, or nil:
    /// deconvnet and guided backprop change how ReLUs pass the signal back and are defined
    /// for ReLU networks; through GELU, SiLU, HardSwish, … they pass the plain gradient.
    public func caveat(for graph: Graph) -> String? {
        guard ["deconvnet", "guided", "guided-gradcam"].contains(name) else { return nil }
        var others: [String] = []
        for node in graph.nodes {
            guard case .unary(let f) = node.op else { continue }
            switch f {
            case .gelu, .geluTanh, .silu, .hardSwish, .elu, .selu, .softplus, .softsign, .mish:
                if !others.contains(f.name) { others.append(f.name) }
            case .erf, .exp, .log, .sqrt, .neg, .abs, .reciprocal, .hardSigmoid:
                continue
            }
        }
        guard !others.isEmpty else { return nil }
        return "--method \(name) is defined for ReLU networks; this model's \(others.joined(separator: ", ")) activations pass the plain gradient"
    }
}
