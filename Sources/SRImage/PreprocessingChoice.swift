import SRCore

/// The preset a model's images are preprocessed with: the one the caller asks for, else the
/// one the model file names (`Graph.metadata.preprocess`), else the first of `Preset.all` —
/// a guess, which `warnings` says. The library never prints: the caller tells the user.
public struct PreprocessingChoice: Sendable {
    public let preset: Preset
    public let warnings: [String]

    /// `requested`: the caller's preset (srtool's `--preprocess`); `modelNames`: the preset
    /// name the model carries, if any.
    public init(requested: Preset?, modelNames name: String?) throws {
        if let requested {
            preset = requested
            warnings = []
        } else if let name {
            guard let named = Preset.named(name) else {
                throw SRError.usage("the model names preprocessing '\(name)', which srtool does not know (choose with --preprocess)")
            }
            preset = named
            warnings = []
        } else {
            preset = Preset.all[0]
            warnings = ["the model names no preprocessing; using '\(preset.name)' (choose with --preprocess)"]
        }
    }
}
