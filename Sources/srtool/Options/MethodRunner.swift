import SRCore
import SRExplain
import SRImage

/// The chosen method as `explain` and `batch` run it: its options, fixed by the first input
/// (the rule set with its z^B bounds, occlusion's window, Grad-CAM's layer), and its maps
/// for a batch.
struct MethodRunner {
    let method: MethodChoice
    let explainer: Explainer
    let options: MethodOptions

    /// `graph`: the model as loaded; `x`: the first input.
    init(method: MethodChoice, explainer: Explainer, graph: Graph, input x: Tensor, preprocessing: Preprocessing?,
         explainArguments: ExplainArguments, methodArguments: MethodArguments, saliency: SaliencyArguments) throws {
        var o = try methodArguments.options(for: explainer, graph: graph, method: method, inputShape: x.shape)
        o.rules = try explainArguments.ruleSet(for: explainer, graph: graph, input: x, preprocessing: preprocessing, method: method)
        o.saliency = saliency.detector
        o.workingSize = saliency.workingSize
        if method.name == "occlusion", x.rank == 4 {
            let passes = Explainer.occlusionPasses(height: x.shape[2], width: x.shape[3], window: o.window, stride: o.stride)
            if passes > 200 {
                Log.info("srtool: occlusion makes \(grouped(passes)) forward passes per image (window \(o.window), stride \(o.stride) on \(x.shape[3])×\(x.shape[2]))")
            }
        }
        self.method = method
        self.explainer = explainer
        options = o
    }

    /// The method's maps for the batch `x` (`options`: these options, e.g. with a progress callback).
    func run(_ x: Tensor, target: Target, options given: MethodOptions? = nil) throws -> MethodResult {
        try method.method.run(explainer, x, target: target, options: given ?? options)
    }
}
