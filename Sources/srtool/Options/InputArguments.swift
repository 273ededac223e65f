import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRRender

/// The input options every command that runs a model shares: images (preprocessed by a
/// preset and its overrides) or an already-preprocessed `.npy`.
struct InputArguments: ParsableArguments {
    @Option(name: .customLong("image"), help: "Input image (PNG or JPEG); repeat for a batch.")
    var images: [String] = []

    @Option(name: .customLong("input"), help: "Preprocessed input tensor (.npy, NCHW float32).")
    var input: String?

    @Option(help: ArgumentHelp("Preprocessing preset: \(Preset.all.map(\.name).joined(separator: ", ")) (default: the model's, else imagenet).",
                               valueName: "preset"))
    var preprocess: String?

    @Option(parsing: .unconditional, help: "Per-channel mean in the network's channel order, e.g. 104,117,123.")
    var mean: String?

    @Option(parsing: .unconditional, help: "Per-channel standard deviation, e.g. 0.229,0.224,0.225.")
    var std: String?

    @Option(parsing: .unconditional, help: "Multiplier applied to 0–255 pixel values before the mean, e.g. 0.00392157.")
    var scale: Float?

    @Flag(help: "Feed channels in BGR order.")
    var bgr = false

    @Option(help: "Resize the shorter side to this many pixels before the centre crop (torchvision Resize).")
    var size: Int?

    /// The input tensor for `graph`'s first input, and a label for each image.
    func tensor(for graph: Graph) throws -> (Tensor, [String]) {
        guard let graphInput = graph.inputs.first else { throw SRError.malformed("the model has no input") }
        if let path = input {
            guard images.isEmpty else { throw SRError.usage("give either --image or --input, not both") }
            return (try NPY.read(path: path), [path])
        }
        guard !images.isEmpty else { throw SRError.usage("no input: give --image IMG or --input X.npy") }
        guard graphInput.shape.count == 4 else {
            throw SRError.usage("the model input '\(graphInput.name)' has shape \(graphInput.shape); images need an N,C,H,W input (use --input X.npy)")
        }
        let prep = try preprocessing(for: graph)
        let tensors = try images.map { path in
            try prep.tensor(from: try RGBImage.read(path: path), height: graphInput.shape[2], width: graphInput.shape[3],
                            channels: graphInput.shape[1])
        }
        return (try Tensor.stack(tensors), images)
    }

    func preprocessing(for graph: Graph) throws -> Preprocessing {
        let name = preprocess ?? graph.metadata.preprocess ?? "imagenet"
        guard let preset = Preset.named(name) else {
            throw SRError.usage("unknown preset '\(name)' (known: \(Preset.all.map(\.name).joined(separator: ", ")))")
        }
        if preprocess == nil && graph.metadata.preprocess == nil && !images.isEmpty {
            Log.warning("the model names no preprocessing; using 'imagenet' (choose with --preprocess)")
        }
        var p = preset.preprocessing
        if let mean { p.mean = try parseFloats(mean, option: "--mean") }
        if let std { p.std = try parseFloats(std, option: "--std") }
        if let scale { p.scale = scale }
        if bgr { p.bgr = true }
        if let size {
            guard size >= 1 else { throw SRError.usage("--size must be positive") }
            p.resize = size
        }
        return p
    }
}
