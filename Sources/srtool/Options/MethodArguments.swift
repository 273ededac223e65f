import ArgumentParser
import SRCore
import SRExplain
import SRFormats

/// Options of the non-LRP methods. Unset ones take the documented defaults; set ones that
/// the chosen method does not read are named in one warning.
struct MethodArguments: ParsableArguments {
    @Option(help: "smoothgrad: noisy samples (default 20).")
    var samples: Int?

    @Option(help: "smoothgrad: noise standard deviation relative to the image's value range (default 0.1).")
    var noise: Float?

    @Option(help: ArgumentHelp("smoothgrad: random seed (default 0).", visibility: .hidden))
    var seed: UInt64?

    @Option(help: "ig: integration steps (default 50).")
    var steps: Int?

    @Option(help: "ig: integration rule, gausslegendre (Captum's default) or riemann (trapezoid).")
    var integration: IntegrationMethod?

    @Option(help: "ig: baseline input (.npy; default zeros).")
    var baseline: String?

    @Option(help: "occlusion: window side in pixels (default: 1/14 of the shorter input side, rounded up: 16 at 224).")
    var window: Int?

    @Option(help: ArgumentHelp("occlusion: window stride in pixels (default: the window).", visibility: .hidden))
    var stride: Int?

    @Option(help: ArgumentHelp("smoothgrad, ig, occlusion: images per forward batch (default 16).", visibility: .hidden))
    var batch: Int?

    @Option(help: "cam, gradcam, guided-gradcam: layer (name, tensor or # from inspect; default the last conv; gradcam: 'all').")
    var layer: String?

    func validate() throws {
        for (name, value) in [("--samples", samples), ("--steps", steps), ("--window", window), ("--stride", stride), ("--batch", batch)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if let noise, !(noise >= 0) { throw ValidationError("--noise must not be negative") }
    }

    /// The options `method` reads that were set although it does not read them.
    func ignored(by method: MethodChoice) -> [String] {
        let name = method.name
        var unused: [String] = []
        if name != "smoothgrad" {
            unused += [("--samples", samples != nil), ("--noise", noise != nil), ("--seed", seed != nil)].filter(\.1).map(\.0)
        }
        if name != "ig" {
            unused += [("--steps", steps != nil), ("--integration", integration != nil), ("--baseline", baseline != nil)].filter(\.1).map(\.0)
        }
        if name != "occlusion" { unused += [("--window", window != nil), ("--stride", stride != nil)].filter(\.1).map(\.0) }
        if !["smoothgrad", "ig", "occlusion"].contains(name), batch != nil { unused.append("--batch") }
        if !["cam", "gradcam", "guided-gradcam"].contains(name), layer != nil { unused.append("--layer") }
        return unused
    }

    /// Occlusion's window for an input of `height × width`: ⌈min side / 14⌉ unless set, so
    /// that the default costs at most 196 passes.
    func occlusionWindow(height: Int, width: Int) -> (window: Int, stride: Int) {
        let w = window ?? max(1, (min(height, width) + 13) / 14)
        return (w, stride ?? w)
    }

    /// `graph`: the model as loaded, whose layer numbers `inspect` shows.
    func options(for explainer: Explainer, graph: Graph, method: MethodChoice, inputShape: [Int]) throws -> MethodOptions {
        var o = MethodOptions()
        o.samples = samples ?? o.samples
        o.noise = noise ?? o.noise
        o.seed = seed ?? o.seed
        o.steps = steps ?? o.steps
        o.integration = integration ?? o.integration
        o.baseline = try baseline.map { try NPY.read(path: $0) }
        o.batch = batch ?? o.batch
        if inputShape.count == 4 {
            let (h, w) = (inputShape[2], inputShape[3])
            (o.window, o.stride) = occlusionWindow(height: h, width: w)
            if method.name == "occlusion", o.window > min(h, w) {
                throw SRError.usage("--window \(o.window) is larger than the \(w)×\(h) input")
            }
        }
        if let layer, layer != "all" {
            let node = try graph.resolveLayer(layer, option: "--layer")
            o.layer = explainer.graph.node(named: node.name)?.output ?? node.output
        } else {
            o.layer = layer
        }
        return o
    }
}
