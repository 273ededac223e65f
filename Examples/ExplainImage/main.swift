// Using SRKit from Swift: load a model (ONNX, Caffe, Keras or .srm), explain an image with
// LRP (zennit's epsilon-plus-flat composite) and write the heatmap as a PNG.
//
//   swift build --product explain-image
//   .build/debug/explain-image MODEL IMAGE OUT.png
import Foundation
import SRCore
import SRExplain
import SRFormats
import SRImage
import SRRender

// First thing in main: this program is also the child that reads HDF5-based models
// (Caffe-HDF5, Keras) in a separate process, so a damaged file cannot crash or hang it.
ModelLoader.serveIsolatedChildIfRequested()

func say(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    say("usage: explain-image MODEL IMAGE OUT.png")
    exit(64)
}
do {
    // The library never prints: what the importer decided comes back as notices.
    let loaded = try ModelLoader.load(path: arguments[1])
    for notice in loaded.notices { say("note: \(notice)") }
    let graph = loaded.graph
    guard let input = graph.inputs.first, input.shape.count == 4 else {
        throw SRError.usage("the model's input is not N,C,H,W")
    }
    let (channels, height, width) = (input.shape[1], input.shape[2], input.shape[3])

    // The preprocessing the model names (else a guess, which the warning says).
    let choice = try PreprocessingChoice(requested: nil, modelNames: graph.metadata.preprocess)
    for warning in choice.warnings { say("warning: \(warning)") }
    let image = try RGBImage.read(path: arguments[2])
    let x = try choice.preset.preprocessing.tensor(from: image, height: height, width: width, channels: channels)

    // LRP with a composite: the explainer folds batch norms and pads first (canonizers).
    let explainer = try Explainer(graph: graph, threads: ProcessInfo.processInfo.activeProcessorCount)
    guard let composite = Composite.named("epsilon-plus-flat") else { throw SRError.internalError("no composite") }
    let rules = try composite.rules(for: explainer.graph, options: CompositeOptions())
    let explanation = try explainer.explain(x, target: .top, rules: rules)
    let relevance = explanation.input.buffer.reduce(0, +)
    print("class \(explanation.targets[0]), logit \(explanation.startValues[0]), input relevance Σ \(relevance)")

    // The heatmap pipeline every srtool command uses: channels summed, 0 at the centre.
    let style = HeatmapStyle(reduction: .sum, normalization: .symmetric, colormap: try Colormap.named("coldnhot"))
    try PNG.write(Heatmap.picture(explanation.input, image: 0, style: style), to: arguments[3])
    print("wrote \(arguments[3])")
} catch {
    say("error: \(error)")
    exit(1)
}
