/// How pixels become the network's input: channel order, scale, per-channel mean and std
/// (in the network's channel order): `v = (pixel · scale − mean[c]) / std[c]`.
public struct Preprocessing: Sendable, Equatable {
    public var bgr: Bool
    public var grayscale: Bool
    public var scale: Float
    public var mean: [Float]
    public var std: [Float]
    /// Shorter side before the centre crop (torchvision `Resize(r)` + `CenterCrop`);
    /// nil: resize so the image just covers the input.
    public var resize: Int?

    public init(bgr: Bool = false, grayscale: Bool = false, scale: Float = 1, mean: [Float] = [0, 0, 0],
                std: [Float] = [1, 1, 1], resize: Int? = nil) {
        self.bgr = bgr; self.grayscale = grayscale; self.scale = scale
        self.mean = mean; self.std = std; self.resize = resize
    }
}

/// The registry of named preprocessing presets (`--preprocess NAME`).
public struct Preset: Sendable {
    public let name: String
    public let summary: String
    public let preprocessing: Preprocessing

    public static let all: [Preset] = [
        Preset(name: "imagenet", summary: "RGB, /255, ImageNet mean/std (torchvision)",
               preprocessing: Preprocessing(scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])),
        Preset(name: "caffe", summary: "BGR, 0–255, mean 104/117/123 (Caffe ImageNet models)",
               preprocessing: Preprocessing(bgr: true, mean: [104, 117, 123])),
        Preset(name: "vggface", summary: "BGR, 0–255, mean 93.59/104.76/129.19 (VGG-Face)",
               preprocessing: Preprocessing(bgr: true, mean: [93.5940, 104.7624, 129.1863])),
        Preset(name: "grayscale", summary: "one channel (ITU-R 601 luma), /255",
               preprocessing: Preprocessing(grayscale: true, scale: 1 / 255, mean: [0], std: [1])),
        Preset(name: "none", summary: "RGB, 0–255, no normalisation",
               preprocessing: Preprocessing()),
    ]

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name } }
}
