/// How pixels become the network's input: channel order, scale, per-channel mean and std
/// (in the network's channel order): `v = (pixel · scale − mean[c]) / std[c]`.
public struct Preprocessing: Sendable, Equatable {
    public var bgr: Bool
    public var grayscale: Bool
    public var scale: Float
    public var mean: [Float]
    public var std: [Float]
    /// Shorter side before the centre crop (torchvision `Resize(r)` + `CenterCrop`);
    /// nil: from `cropFraction`.
    public var resize: Int?
    /// The share of the resized image's shorter side the centre crop keeps (timm's
    /// `crop_pct`): the shorter side becomes ⌊input side / fraction⌋ — 256 for a 224 input
    /// at 0.875, torchvision's ImageNet evaluation transform. nil: the image is resized so
    /// that it just covers the input.
    public var cropFraction: Double?

    public init(bgr: Bool = false, grayscale: Bool = false, scale: Float = 1, mean: [Float] = [0, 0, 0],
                std: [Float] = [1, 1, 1], resize: Int? = nil, cropFraction: Double? = nil) {
        self.bgr = bgr; self.grayscale = grayscale; self.scale = scale
        self.mean = mean; self.std = std; self.resize = resize; self.cropFraction = cropFraction
    }
}

/// The registry of named preprocessing presets (`--preprocess NAME`).
public struct Preset: Sendable {
    public let name: String
    public let summary: String
    public let preprocessing: Preprocessing

    public static let all: [Preset] = [
        Preset(name: "imagenet", summary: "torchvision's ImageNet evaluation: shorter side to 256/224 of the input (Resize(256)), centre crop, RGB, /255, ImageNet mean/std",
               preprocessing: Preprocessing(scale: 1 / 255, mean: imagenetMean, std: imagenetStd, cropFraction: 0.875)),
        Preset(name: "imagenet-full", summary: "as imagenet, but the shorter side resized to the input (centre crop of the longer side only)",
               preprocessing: Preprocessing(scale: 1 / 255, mean: imagenetMean, std: imagenetStd)),
        Preset(name: "caffe", summary: "shorter side to the input, centre crop, BGR, 0–255, mean 104/117/123 (Caffe ImageNet models)",
               preprocessing: Preprocessing(bgr: true, mean: [104, 117, 123])),
        Preset(name: "vggface", summary: "shorter side to the input, centre crop, BGR, 0–255, mean 93.59/104.76/129.19 (VGG-Face)",
               preprocessing: Preprocessing(bgr: true, mean: [93.5940, 104.7624, 129.1863])),
        Preset(name: "grayscale", summary: "shorter side to the input, centre crop, one channel (ITU-R 601 luma), /255",
               preprocessing: Preprocessing(grayscale: true, scale: 1 / 255, mean: [0], std: [1])),
        Preset(name: "none", summary: "shorter side to the input, centre crop, RGB, 0–255, no normalisation",
               preprocessing: Preprocessing()),
    ]

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name } }

    private static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    private static let imagenetStd: [Float] = [0.229, 0.224, 0.225]
}
