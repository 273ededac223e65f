import SRCore

/// Parses a rule written on the command line: `epsilon[:ε]`, `gamma[:γ]`, `zplus`,
/// `alpha-beta[:α:β]`, `zbox:low:high`, `flat`, `wsquare`, `pass`, `norm`, `norm-plus`, `product`, `gradient`
/// (append `:nobias` to drop the bias from conv/linear rules).
public enum RuleParser {
    public static let names = ["epsilon", "gamma", "zplus", "alpha-beta", "zbox", "flat", "wsquare", "pass", "norm", "norm-plus", "product", "gradient"]

    public static func parse(_ text: String) throws -> Rule {
        var parts = text.split(separator: ":").map(String.init)
        let zeroBias = parts.last == "nobias"
        if zeroBias { parts.removeLast() }
        guard let name = parts.first else { throw SRError.usage("empty rule") }
        let numbers = try parts.dropFirst().map { p -> Float in
            guard let v = Float(p), v.isFinite else { throw SRError.usage("rule '\(text)': '\(p)' is not a number") }
            return v
        }
        func arity(_ allowed: ClosedRange<Int>) throws {
            guard allowed.contains(numbers.count) else {
                throw SRError.usage("rule '\(text)': \(name) takes \(allowed.lowerBound == allowed.upperBound ? "\(allowed.lowerBound)" : "\(allowed.lowerBound)–\(allowed.upperBound)") parameter(s)")
            }
        }
        switch name {
        case "epsilon": try arity(0...1); return LRP.epsilon(numbers.first ?? 1e-6, zeroBias: zeroBias)
        case "gamma": try arity(0...1); return LRP.gamma(numbers.first ?? 0.25, zeroBias: zeroBias)
        case "zplus": try arity(0...0); return LRP.zPlus(zeroBias: zeroBias)
        case "alpha-beta":
            try arity(0...2)
            let alpha = numbers.first ?? 2
            return try LRP.alphaBeta(alpha: alpha, beta: numbers.count > 1 ? numbers[1] : alpha - 1, zeroBias: zeroBias)
        case "zbox": try arity(2...2); return LRP.zBox(low: [numbers[0]], high: [numbers[1]], zeroBias: zeroBias)
        case "flat": try arity(0...0); return LRP.flat()
        case "wsquare": try arity(0...0); return LRP.wSquare(zeroBias: zeroBias)
        case "pass": try arity(0...0); return Pass()
        case "norm": try arity(0...1); return Norm(stabilizer: numbers.first ?? 1e-6)
        case "norm-plus": try arity(0...1); return SumPlus(stabilizer: numbers.first ?? 1e-6)
        case "product": try arity(0...0); return ProductRule()
        case "gradient": try arity(0...0); return Gradient()
        default: throw SRError.usage("unknown rule '\(name)' (known: \(names.joined(separator: ", ")))")
        }
    }
}
