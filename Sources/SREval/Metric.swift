import SRCore

/// The `--metric` registry: each metric's name and what it needs. Its headline number
/// (`MetricResult.score`, what a method × metric table averages) is Quantus' AUC for
/// pixel-flipping, the AOPC for region-perturbation, the share of percentages at which the
/// target stays top for ROAD, and the score itself for the others.
public enum Metric: String, CaseIterable, Sendable {
    case pixelFlipping = "pixel-flipping"
    case regionPerturbation = "region-perturbation"
    case road
    case sparseness
    case complexity
    case pointingGame = "pointing-game"
    case relevanceMass = "relevance-mass"
    case relevanceRank = "relevance-rank"

    /// Runs the network on perturbed copies.
    public var needsModel: Bool { [.pixelFlipping, .regionPerturbation, .road].contains(self) }
    /// Compares with a ground-truth mask.
    public var needsMask: Bool { [.pointingGame, .relevanceMass, .relevanceRank].contains(self) }
}

/// The options of every metric (`eval`'s metric options).
public struct MetricOptions: Sendable {
    public var pixelFlipping = PixelFlipping()
    public var regionPerturbation = RegionPerturbation()
    public var road = ROAD()
    /// The pointing game's tolerance in pixels.
    public var tolerance = 0
    public init() {}

    /// Refuses options that make no sense for an `[N, C, H, W]` input (exit 64).
    public func check(_ metrics: [Metric], inputShape: [Int]) throws {
        guard inputShape.count == 4 else { throw SRError.usage("eval needs an [N, C, H, W] input, got \(inputShape)") }
        for m in metrics {
            switch m {
            case .pixelFlipping: try pixelFlipping.check(inputShape: inputShape)
            case .regionPerturbation: try regionPerturbation.check(inputShape: inputShape)
            case .road: try road.check()
            case .pointingGame: guard tolerance >= 0 else { throw SRError.usage("--tolerance must not be negative") }
            case .sparseness, .complexity, .relevanceMass, .relevanceRank: continue
            }
        }
    }
}

/// One metric's result for one input.
public struct MetricResult: Sendable {
    public var metric: Metric
    /// The headline number (`Metric.headline`).
    public var score: Double
    /// Perturbation metrics: the target's score before and after each step (ROAD: at each
    /// percentage), Quantus' AUC and the AOPC.
    public var curve: [Double]?
    public var auc: Double?
    public var aopc: Double?
    /// ROAD: whether the target is still the top class at each percentage (Quantus' values).
    public var correct: [Bool]?
}

/// Evaluates metrics on one sample.
public enum Evaluation {
    /// Refuses an attribution that does not fit the input (exit 65): same N, H, W; C equal to
    /// the input's or 1.
    public static func check(attribution a: [Int], input x: [Int]) throws {
        guard a.count == 4, a[0] == x[0], a[2] == x[2], a[3] == x[3], a[1] == x[1] || a[1] == 1 else {
            throw SRError.malformed("the attribution has shape \(a); the input \(x) needs [\(x[0]), \(x[1]) or 1, \(x[2]), \(x[3])]")
        }
    }

    public static func run(_ metric: Metric, input x: Tensor, sample n: Int, map: PixelMap, target: Int, mask: Mask?,
                           maskName: String = "the mask", scorer: Scorer?, options: MetricOptions,
                           random: inout SeededRandom) throws -> MetricResult {
        func needScorer() throws -> Scorer {
            guard let scorer else { throw SRError.usage("--metric \(metric.rawValue) needs a model") }
            return scorer
        }
        func needMask() throws -> Mask {
            guard let mask else { throw SRError.usage("--metric \(metric.rawValue) needs --mask") }
            return mask
        }
        switch metric {
        case .pixelFlipping:
            let r = try options.pixelFlipping.evaluate(x, sample: n, map: map, target: target, scorer: try needScorer(), random: &random)
            return MetricResult(metric: metric, score: r.auc, curve: r.curve, auc: r.auc, aopc: r.aopc)
        case .regionPerturbation:
            let r = try options.regionPerturbation.evaluate(x, sample: n, map: map, target: target, scorer: try needScorer(), random: &random)
            return MetricResult(metric: metric, score: r.aopc, curve: r.curve, auc: r.auc, aopc: r.aopc)
        case .road:
            let r = try options.road.evaluate(x, sample: n, map: map, target: target, scorer: try needScorer(), random: &random)
            let share = Double(r.correct.filter { $0 }.count) / Double(max(r.correct.count, 1))
            return MetricResult(metric: metric, score: share, curve: r.curve, correct: r.correct)
        case .sparseness: return MetricResult(metric: metric, score: Sparseness.score(map))
        case .complexity: return MetricResult(metric: metric, score: Complexity.score(map))
        case .pointingGame:
            return MetricResult(metric: metric, score: try PointingGame.score(map, mask: try needMask(), tolerance: options.tolerance, name: maskName))
        case .relevanceMass:
            return MetricResult(metric: metric, score: try RelevanceMass.score(map, mask: try needMask(), name: maskName))
        case .relevanceRank:
            return MetricResult(metric: metric, score: try RelevanceRank.score(map, mask: try needMask(), name: maskName))
        }
    }
}
