import ArgumentParser
import SRExplain
import SRImage
import SRRender

/// An option value from a fixed list that a library module defines (methods, composites,
/// presets): ArgumentParser checks it once, lists the values in help and in its one-line
/// error, and completes them in the shell.
protocol NamedChoice: ExpressibleByArgument, CaseIterable, Hashable, CustomStringConvertible {
    static var names: [String] { get }
    var name: String { get }
    init(checked name: String)
}

extension NamedChoice {
    init?(argument: String) {
        guard Self.names.contains(argument) else { return nil }
        self.init(checked: argument)
    }
    static var allCases: [Self] { names.map(Self.init(checked:)) }
    static var allValueStrings: [String] { names }
    static var defaultCompletionKind: CompletionKind { .list(names) }
    var defaultValueDescription: String { name }
    var description: String { name }
}

/// `--method`: SRExplain's methods.
struct MethodChoice: NamedChoice {
    static let names = Method.all.map(\.name)
    let name: String
    init(checked name: String) { self.name = name }

    static let lrp = MethodChoice(checked: "lrp")
    /// Salient Relevance (render's `--sr` picture).
    static let sr = MethodChoice(checked: "sr")
    var method: Method { Method.named(name) ?? Method.all[0] }
    /// Whether LRP's options (`--composite`, `--rule`, `--epsilon`, …) apply.
    var usesComposite: Bool { method.usesComposite }
}

/// `--composite`: the LRP composites.
struct CompositeChoice: NamedChoice {
    static let names = Composite.all.map(\.name)
    let name: String
    init(checked name: String) { self.name = name }
}

/// `--preprocess`: the preprocessing presets.
struct PresetChoice: NamedChoice {
    static let names = Preset.all.map(\.name)
    let name: String
    init(checked name: String) { self.name = name }
    var preset: Preset { Preset.named(name) ?? Preset.all[0] }
}

/// `--cmap`: a colour map by name, or a spec in zennit's colour-map language; names complete.
struct ColormapChoice: ExpressibleByArgument {
    let colormap: Colormap
    let argument: String
    init?(argument: String) {
        guard let c = try? Colormap.named(argument) else { return nil }
        colormap = c
        self.argument = argument
    }
    static var allValueStrings: [String] { Colormap.all.map(\.name) }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

extension Normalization: ExpressibleByArgument {}
extension Heatmap.Reduction: ExpressibleByArgument {}
extension IntegrationMethod: ExpressibleByArgument {}
