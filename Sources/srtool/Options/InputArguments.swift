import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRImage

/// The input options every command that runs a model shares: images (preprocessed by a
/// preset and its overrides) or an already-preprocessed `.npy`.
struct InputArguments: ParsableArguments {
    @Option(name: .customLong("image"), parsing: .upToNextOption,
            help: ArgumentHelp("Input images (PNG or JPEG): files, folders (their images sorted by name, *_mask.png left out), - for standard input.", valueName: "image"))
    var images: [String] = []

    @Option(name: .customLong("images"), parsing: .upToNextOption, help: .hidden)
    var folders: [String] = []

    @Option(name: .customLong("input"), help: "Preprocessed input tensor (.npy, NCHW float32).")
    var input: String?

    @Option(help: "Preprocessing preset (default: the model's, else imagenet; see srtool presets).")
    var preprocess: PresetChoice?

    @Option(parsing: .unconditional, help: ArgumentHelp("Per-channel mean in the network's channel order, e.g. 104,117,123.", visibility: .hidden))
    var mean: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Per-channel standard deviation, e.g. 0.229,0.224,0.225.", visibility: .hidden))
    var std: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Multiplier applied to 0–255 pixel values before the mean, e.g. 0.00392157.", visibility: .hidden))
    var scale: Float?

    @Flag(help: ArgumentHelp("Feed channels in BGR order.", visibility: .hidden))
    var bgr = false

    @Option(help: ArgumentHelp("Resize the shorter side to this many pixels before the centre crop (torchvision Resize).", visibility: .hidden))
    var size: Int?

    /// Whether any image was named (`--image`, `--images`).
    var hasImages: Bool { !images.isEmpty || !folders.isEmpty }

    /// The image files named, folders expanded to their PNG and JPEG files sorted by name
    /// (`*_mask.png` left out); `-` stays (standard input).
    func imagePaths() throws -> [String] {
        var paths: [String] = []
        for path in images + folders {
            var isFolder: ObjCBool = false
            guard path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                paths.append(path)
                continue
            }
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: path) else {
                throw SRError.missing("\(path): cannot read the folder")
            }
            // `NAME_mask.png` beside `NAME.png` is that image's object mask (eval's --masks), not an input.
            let pictures = files.filter {
                ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) && !$0.lowercased().hasSuffix("_mask.png")
            }.sorted()
            guard !pictures.isEmpty else { throw SRError.usage("\(path) holds no PNG or JPEG images") }
            paths += pictures.map { (path as NSString).appendingPathComponent($0) }
        }
        guard paths.filter({ $0 == "-" }).count <= 1 else { throw SRError.usage("standard input (-) can be read once") }
        return paths
    }

    /// The inputs for `graph`'s first input: one per image, or the samples of `--input`.
    func sources() throws -> [InputSource] {
        if let path = input {
            guard !hasImages else { throw SRError.usage("give either --image or --input, not both") }
            return [InputSource(name: path, path: path, isTensor: true)]
        }
        let paths = try imagePaths()
        guard !paths.isEmpty else { throw SRError.usage("no input: give --image IMG or --input X.npy") }
        return paths.map { InputSource(name: $0 == "-" ? "stdin" : $0, path: $0, isTensor: false) }
    }

    /// The input tensor for `graph`'s first input from `sources` (all of them when nil),
    /// and a name for each of its samples.
    func tensor(for graph: Graph, sources given: [InputSource]? = nil) throws -> (Tensor, [String]) {
        guard let graphInput = graph.inputs.first else { throw SRError.malformed("the model has no input") }
        let sources = try given ?? self.sources()
        if let first = sources.first, first.isTensor {
            let x = try NPY.read(path: first.path)
            return (x, x.rank > 0 && x.shape[0] > 1 ? (0..<x.shape[0]).map { "\(first.name)[\($0)]" } : [first.name])
        }
        guard graphInput.shape.count == 4 else {
            throw SRError.usage("the model input '\(graphInput.name)' has shape \(graphInput.shape); images need an N,C,H,W input (use --input X.npy)")
        }
        let prep = try preprocessing(for: graph)
        let tensors = try sources.map { source in
            try prep.tensor(from: try source.image(), height: graphInput.shape[2], width: graphInput.shape[3],
                            channels: graphInput.shape[1])
        }
        return (try Tensor.stack(tensors), sources.map(\.name))
    }

    func preprocessing(for graph: Graph) throws -> Preprocessing {
        let choice = try PreprocessingChoice(requested: preprocess?.preset, modelNames: graph.metadata.preprocess)
        // A guessed preset matters only where images are preprocessed.
        if hasImages { choice.warnings.forEach(Log.warning) }
        var p = choice.preset.preprocessing
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

/// One input as the user named it: an image file, standard input (`-`), or a `.npy` tensor.
struct InputSource {
    /// How lines and reports name it (`stdin` for `-`).
    let name: String
    let path: String
    let isTensor: Bool

    /// The decoded image; standard input is read once and kept.
    func image() throws -> RGBImage {
        path == "-" ? try StandardInputImage.shared.image() : try RGBImage.read(path: path)
    }

    /// The base of output files named after this input: `photos/cat.jpg` → `cat`.
    var stem: String { ((name as NSString).lastPathComponent as NSString).deletingPathExtension }
}

/// An image given as `-`: standard input, read on first use and decoded once.
final class StandardInputImage: @unchecked Sendable {
    static let shared = StandardInputImage()
    private var decoded: RGBImage?

    func image() throws -> RGBImage {
        if let decoded { return decoded }
        var data = Data()
        while true {
            let chunk: Data
            do { chunk = try FileHandle.standardInput.read(upToCount: 1 << 20) ?? Data() } catch {
                throw SRError.missing("-: cannot read standard input (\(systemReason(error)))")
            }
            if chunk.isEmpty { break }
            data += chunk
            guard data.count <= 1 << 30 else { throw SRError.malformed("-: standard input holds more than 1 GiB, too large for an image") }
        }
        guard !data.isEmpty else { throw SRError.malformed("-: standard input is empty") }
        let image = try RGBImage.decode(data, name: "-")
        decoded = image
        return image
    }
}
