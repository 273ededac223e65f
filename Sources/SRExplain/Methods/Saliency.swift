import Foundation
import SRCore
import SRRuntime

/// The gradient family built on the same backward engine: plain, guided and deconvnet
/// gradients, gradient × input, SmoothGrad, Integrated Gradients, occlusion, CAM, Grad-CAM.
extension Explainer {
    /// `∂logit_target/∂x` with the rule set's ReLU handling (gradient, guided, deconvnet);
    /// the forward pass may fuse a conv and its ReLU or Clip, as only their masks are read.
    public func gradient(_ x: Tensor, target: Target, rules: RuleSet) throws -> Explanation {
        try explain(x, target: target, rules: rules, gradientStart: true, fuseActivations: true, retention: .tensors([]))
    }

    /// One forward pass: the model's output for each image and the class explained.
    public func classify(_ x: Tensor, _ target: Target) throws -> Classified {
        try Classified(scores: try executor.outputs(x)[0], target: target)
    }

    /// SmoothGrad (Smilkov et al. 2017): the mean gradient over `samples` copies of each
    /// image with Gaussian noise of standard deviation `noise·(max − min)` added (the image's
    /// own range), drawn from a seeded generator.
    public func smoothGrad(_ x: Tensor, _ classified: Classified, samples: Int, noise: Float, seed: UInt64,
                           batch: Int, progress: ((Double) -> Void)? = nil) throws -> Tensor {
        let ks = classified.targets
        var rng = Gaussian(seed: seed)
        let out = Tensor(zeros: x.shape)
        let per = x.count / x.shape[0]
        for n in 0..<x.shape[0] {
            let image = x.sample(n)
            let sigma = noise * ((image.buffer.max() ?? 0) - (image.buffer.min() ?? 0))
            var done = 0
            while done < samples {
                let m = min(batch, samples - done)
                let noisy = Tensor(uninitialized: [m] + image.shape.dropFirst())
                for j in 0..<m { for i in 0..<per { noisy.pointer[j * per + i] = image.pointer[i] + sigma * rng.next() } }
                let g = try gradient(noisy, target: .index(ks[n]), rules: RuleSet { _ in Gradient() }).input
                for j in 0..<m { for i in 0..<per { out.pointer[n * per + i] += g.pointer[j * per + i] / Float(samples) } }
                done += m
                progress?(Double(n * samples + done) / Double(x.shape[0] * samples))
            }
        }
        return out
    }

    /// Integrated Gradients (Sundararajan et al. 2017): `(x − x̄) ⊙ Σ_s w_s ∂F/∂x(x̄ + α_s(x − x̄))`
    /// with Captum's nodes and weights (`riemann_trapezoid`, or Gauss–Legendre on [0, 1]);
    /// the path points are batched through the network.
    public func integratedGradients(_ x: Tensor, baseline: Tensor?, _ classified: Classified, steps: Int,
                                    method: IntegrationMethod, batch: Int, progress: ((Double) -> Void)? = nil) throws -> Tensor {
        let ks = classified.targets
        let (alphas, weights) = method.nodes(steps)
        let per = x.count / x.shape[0]
        let out = Tensor(zeros: x.shape)
        for n in 0..<x.shape[0] {
            let image = x.sample(n)
            let base = baseline.map { $0.shape[0] == x.shape[0] ? $0.sample(n) : $0 }
            var s = 0
            while s < alphas.count {
                let m = min(batch, alphas.count - s)
                let path = Tensor(uninitialized: [m] + image.shape.dropFirst())
                for j in 0..<m {
                    let a = alphas[s + j]
                    for i in 0..<per {
                        let b = base?.pointer[i] ?? 0
                        path.pointer[j * per + i] = b + a * (image.pointer[i] - b)
                    }
                }
                let g = try gradient(path, target: .index(ks[n]), rules: RuleSet { _ in Gradient() }).input
                for j in 0..<m {
                    let w = weights[s + j]
                    for i in 0..<per { out.pointer[n * per + i] += w * g.pointer[j * per + i] }
                }
                s += m
                progress?(Double(n * alphas.count + s) / Double(x.shape[0] * alphas.count))
            }
            for i in 0..<per { out.pointer[n * per + i] *= image.pointer[i] - (base?.pointer[i] ?? 0) }
        }
        return out
    }

    /// Occlusion (Zeiler & Fergus 2014, Captum `Occlusion`): slide a `window × window` patch
    /// (all channels) with `stride`, set it to `baseline`, and give each pixel the mean drop
    /// of the target logit over the windows covering it. Occluded copies run in batches.
    public func occlusion(_ x: Tensor, _ classified: Classified, window: Int, stride: Int, baseline: Float,
                          batch: Int, progress: ((Double) -> Void)? = nil) throws -> Tensor {
        let ks = classified.targets
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let per = c * h * w
        let ys = Self.occlusionStarts(h, window: window, stride: stride), xs = Self.occlusionStarts(w, window: window, stride: stride)
        let windows = ys.flatMap { y in xs.map { (y, $0) } }
        let out = Tensor(zeros: x.shape)
        for n in 0..<x.shape[0] {
            let image = x.sample(n)
            let reference = classified.score(n)
            var count = [Float](repeating: 0, count: h * w), total = [Float](repeating: 0, count: h * w)
            var s = 0
            while s < windows.count {
                let m = min(batch, windows.count - s)
                let copies = Tensor(uninitialized: [m, c, h, w])
                for j in 0..<m {
                    (copies.pointer + j * per).update(from: image.pointer, count: per)
                    let (y0, x0) = windows[s + j]
                    for ch in 0..<c { for y in y0..<min(y0 + window, h) { for xx in x0..<min(x0 + window, w) {
                        copies.pointer[j * per + (ch * h + y) * w + xx] = baseline
                    } } }
                }
                let ys = try executor.outputs(copies)[0]
                let classes = ys.count / m
                for j in 0..<m {
                    let drop = reference - ys.pointer[j * classes + ks[n]]
                    let (y0, x0) = windows[s + j]
                    for y in y0..<min(y0 + window, h) { for xx in x0..<min(x0 + window, w) {
                        total[y * w + xx] += drop; count[y * w + xx] += 1
                    } }
                }
                s += m
                progress?(Double(n * windows.count + s) / Double(x.shape[0] * windows.count))
            }
            for ch in 0..<c { for i in 0..<(h * w) where count[i] > 0 {
                out.pointer[n * per + ch * h * w + i] = total[i] / count[i]
            } }
        }
        return out
    }

    /// Captum's window positions along a side: ⌈(size − window)/stride⌉ + 1 starts at
    /// k·stride, the last window clipped.
    public static func occlusionStarts(_ size: Int, window: Int, stride: Int) -> [Int] {
        (0...((max(size - window, 0) + stride - 1) / stride)).map { $0 * stride }
    }

    /// Forward passes occlusion makes per image of `height × width`.
    public static func occlusionPasses(height: Int, width: Int, window: Int, stride: Int) -> Int {
        occlusionStarts(height, window: window, stride: stride).count * occlusionStarts(width, window: window, stride: stride).count
    }

    /// CAM (Zhou et al. 2016) for networks ending in global average pooling and one linear
    /// layer: `Σ_k w[target, k]·A_k` over the pooled feature maps A, `[N, 1, h, w]`, without
    /// ReLU or bias.
    public func cam(_ x: Tensor, target: Target) throws -> (map: Tensor, layer: String, classified: Classified) {
        guard let (pool, fc) = camLayers() else {
            throw SRError.unsupported("CAM needs a network that ends in global average pooling and one linear layer; use --method gradcam")
        }
        guard let inputName = graph.inputs.first?.name else { throw SRError.malformed("the model has no input") }
        let acts = try executor.run([inputName: x], keepAll: true)
        guard let a = acts[pool.inputs[0]], let w = graph.weight(fc, "weight"),
              let scores = graph.outputs.first.flatMap({ acts[$0] }) else { throw SRError.internalError("no CAM activations") }
        let classified = try Classified(scores: scores, target: target)
        let ks = classified.targets
        let (c, h, wd) = (a.shape[1], a.shape[2], a.shape[3])
        let out = Tensor(zeros: [x.shape[0], 1, h, wd])
        for n in 0..<x.shape[0] { for k in 0..<c {
            let wk = w.pointer[ks[n] * c + k]
            for i in 0..<(h * wd) { out.pointer[n * h * wd + i] += wk * a.pointer[(n * c + k) * h * wd + i] }
        } }
        return (out, pool.inputs[0], classified)
    }

    /// The global-average-pool node and the linear layer right after it (through reshapes).
    private func camLayers() -> (Node, Node)? {
        guard let fc = graph.nodes.last(where: { if case .linear = $0.op { return true } else { return false } }) else { return nil }
        var tensor = fc.inputs[0]
        while let p = graph.producer(of: tensor) {
            switch p.op {
            case .flatten, .reshape, .identity: tensor = p.inputs[0]
            case .globalAvgPool:
                // Nothing but the classifier may follow the linear layer.
                return graph.nodes.filter({ if case .linear = $0.op { return true } else { return false } }).count >= 1 ? (p, fc) : nil
            default: return nil
            }
        }
        return nil
    }

    /// Grad-CAM (Selvaraju et al. 2017) at `layer`'s output A: `Σ_k α_k A_k` with
    /// `α_k = mean_{ij} ∂logit_target/∂A_kij`, `[N, 1, h, w]`, before the ReLU.
    public func gradCAM(_ x: Tensor, target: Target, layer: String) throws -> (map: Tensor, explanation: Explanation) {
        // The gradient is only needed down to the layer.
        let e = try explain(x, target: target, rules: RuleSet { _ in Gradient() }, gradientStart: true, stopAt: layer,
                            retention: .tensors([layer]))
        guard let a0 = e.activations[layer], let g0 = e.layers[layer], a0.rank == 4 || a0.rank == 3 else {
            throw SRError.usage("Grad-CAM needs a 4-D layer output (or a transformer's [N, tokens, features]) that leads to the class; '\(layer)' is not one")
        }
        let (a, g): (Tensor, Tensor)
        if a0.rank == 3 {
            (a, g) = (try Self.tokenGrid(a0, input: x, layer: layer), try Self.tokenGrid(g0, input: x, layer: layer))
        } else if isChannelsLast(layer) {
            (a, g) = (Kernels.transpose(a0, perm: [0, 3, 1, 2]), Kernels.transpose(g0, perm: [0, 3, 1, 2]))
        } else {
            (a, g) = (a0, g0)
        }
        let (c, h, w) = (a.shape[1], a.shape[2], a.shape[3])
        let out = Tensor(zeros: [x.shape[0], 1, h, w])
        for n in 0..<x.shape[0] { for k in 0..<c {
            let base = (n * c + k) * h * w
            var alpha: Float = 0
            for i in 0..<(h * w) { alpha += g.pointer[base + i] }
            alpha /= Float(h * w)
            for i in 0..<(h * w) { out.pointer[n * h * w + i] += alpha * a.pointer[base + i] }
        } }
        return (out, e)
    }

    /// Whether a 4-D layer output is `[N, H, W, C]`: made by a layer norm or a linear layer
    /// over its last axis (Swin's stages, ConvNeXt's blocks between their permutes), so that
    /// Grad-CAM takes the last axis as the channels — pytorch-grad-cam's Swin
    /// `reshape_transform` (`permute(0, 3, 1, 2)`).
    func isChannelsLast(_ layer: String) -> Bool {
        switch graph.producer(of: layer)?.op {
        case .layerNorm(let axis, _): return axis == 3 || axis == -1
        case .linear: return true
        default: return false
        }
    }

    /// Transformer tokens `[N, T, C]` as an image `[N, C, h, w]` on the patch grid, the leading
    /// class (and distillation) tokens dropped: the `reshape_transform` pytorch-grad-cam uses
    /// for ViTs. The grid has the input's aspect ratio; the fewest leading tokens (0, 1 or 2)
    /// that leave such a grid are dropped.
    static func tokenGrid(_ t: Tensor, input x: Tensor, layer: String) throws -> Tensor {
        let (n, tokens, c) = (t.shape[0], t.shape[1], t.shape[2])
        let (height, width) = (x.shape.count == 4 ? x.shape[2] : 1, x.shape.count == 4 ? x.shape[3] : 1)
        for k in 0...2 where tokens - k >= 1 {
            let cells = tokens - k
            let w = Int((Double(cells * width) / Double(height)).squareRoot().rounded())
            guard w >= 1, cells % w == 0, (cells / w) * width == w * height else { continue }
            let h = cells / w
            let out = Tensor(uninitialized: [n, c, h, w])
            for img in 0..<n { for cell in 0..<cells { for ch in 0..<c {
                out.pointer[(img * c + ch) * cells + cell] = t.pointer[(img * tokens + k + cell) * c + ch]
            } } }
            return out
        }
        throw SRError.usage("Grad-CAM: the \(tokens) tokens of '\(layer)' do not form a patch grid with the input's aspect ratio")
    }

    /// The output tensor of the last convolution (Grad-CAM's default layer).
    public var lastConvolution: String? {
        graph.nodes.last { if case .conv2d = $0.op { return true } else { return false } }?.output
    }

    /// Every convolution's output tensor, in network order (`--layer all`).
    public var convolutions: [String] {
        graph.nodes.filter { if case .conv2d = $0.op { return true } else { return false } }.map(\.output)
    }
}

/// The model's output for each image (`[N, classes]`) and the class each is explained for.
public struct Classified: @unchecked Sendable {
    public let scores: Tensor
    public let targets: [Int]

    public init(scores: Tensor, target: Target) throws {
        let n = scores.shape.first ?? 1
        let classes = scores.count / max(n, 1)
        self.scores = scores
        targets = try (0..<n).map { i in try target.resolve(i, row: scores.pointer + i * classes, classes: classes) }
    }

    /// The same scores with the targets an explanation already chose.
    func with(targets: [Int]) -> Classified { Classified(scores: scores, targets: targets) }

    private init(scores: Tensor, targets: [Int]) { self.scores = scores; self.targets = targets }

    /// Image n's score for its target.
    public func score(_ n: Int) -> Float { scores.pointer[n * (scores.count / max(targets.count, 1)) + targets[n]] }
}

/// Integration rules for Integrated Gradients, with Captum's conventions
/// (`captum/attr/_utils/approximation_methods.py`).
public enum IntegrationMethod: String, Sendable, CaseIterable {
    /// Nodes `i/(n−1)` with Captum's trapezoid weights `1/n` (halved at both ends): they
    /// sum to (n−1)/n, not 1 — Captum's convention, kept so results agree.
    case riemannTrapezoid = "riemann"
    /// Gauss–Legendre nodes and weights mapped from [−1, 1] to [0, 1].
    case gaussLegendre = "gausslegendre"

    public func nodes(_ n: Int) -> ([Float], [Float]) {
        switch self {
        case .riemannTrapezoid:
            guard n > 1 else { return ([1], [1]) }
            let alphas = (0..<n).map { Float(Double($0) / Double(n - 1)) }
            let step = 1 / Double(n)
            let weights = (0..<n).map { i in Float(i == 0 || i == n - 1 ? step / 2 : step) }
            return (alphas, weights)
        case .gaussLegendre:
            let (x, w) = legendre(n)
            return (x.map { Float(($0 + 1) / 2) }, w.map { Float($0 / 2) })
        }
    }

    /// Gauss–Legendre nodes (ascending) and weights on [−1, 1], by Newton's method on P_n.
    private func legendre(_ n: Int) -> ([Double], [Double]) {
        var xs = [Double](repeating: 0, count: n), ws = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var z = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var dp = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = z
                for k in 2...max(n, 2) where n >= 2 {
                    let p2 = ((2 * Double(k) - 1) * z * p1 - (Double(k) - 1) * p0) / Double(k)
                    p0 = p1; p1 = p2
                }
                let pn = n == 1 ? z : p1, pm = n == 1 ? 1 : p0
                dp = Double(n) * (z * pn - pm) / (z * z - 1)
                let dz = pn / dp
                z -= dz
                if abs(dz) < 1e-15 { break }
            }
            xs[n - 1 - i] = z
            ws[n - 1 - i] = 2 / ((1 - z * z) * dp * dp)
        }
        return (xs, ws)
    }
}

/// Standard normal samples (Box–Muller over a 64-bit LCG), reproducible from a seed.
struct Gaussian {
    private var state: UInt64
    private var spare: Float?

    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1 }

    private mutating func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Double(state >> 11) + 0.5) / Double(1 << 53)
    }

    mutating func next() -> Float {
        if let s = spare { spare = nil; return s }
        let r = (-2 * log(uniform())).squareRoot(), t = 2 * Double.pi * uniform()
        spare = Float(r * sin(t))
        return Float(r * cos(t))
    }
}
