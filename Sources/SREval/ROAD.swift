import SRCore

/// ROAD, RemOve And Debias (Rong et al. 2022), as Quantus 0.6.0's `ROAD`: for each
/// percentage p the ⌊p · H·W⌋ most (morf) or least (lerf) relevant pixels of the original
/// input are removed by noisy linear imputation (`LinearImputation`, noise 0.01), each
/// percentage independently of the others; Quantus scores whether the target is still the
/// top class. Quantus 0.6.0 itself fails on multi-channel input (it ranks the
/// channel-broadcast map's C·H·W indices and imputes H·W pixels: IndexError) and only knows
/// morf; srtool ranks pixels, as Quantus does on one-channel input.
public struct ROAD: Sendable {
    public var percentages: [Double]
    public var order: Order
    public var noise: Double

    /// Quantus' default percentages, 1 %, 3 %, …, 99 %.
    public static let defaultPercentages = stride(from: 1, through: 99, by: 2).map { Double($0) / 100 }

    public init(percentages: [Double] = ROAD.defaultPercentages, order: Order = .morf, noise: Double = 0.01) {
        self.percentages = percentages; self.order = order; self.noise = noise
    }

    public func check() throws {
        guard !percentages.isEmpty, percentages.allSatisfy({ $0 > 0 && $0 < 1 }) else {
            throw SRError.usage("--percentages must be fractions between 0 and 1 (exclusive), e.g. 0.1,0.2")
        }
        guard noise >= 0, noise.isFinite else { throw SRError.usage("--noise must not be negative") }
    }

    /// ⌊p · pixels⌋, as Quantus' `int(a_size * p / 100)` for p in percent.
    static func count(_ p: Double, of pixels: Int) -> Int { Int((p * Double(pixels) + 1e-9).rounded(.down)) }

    /// The curve (score before, then at each percentage) and whether the target stayed on top.
    public struct Result: Sendable, Equatable {
        public var curve: [Double]
        public var correct: [Bool]
    }

    public func evaluate(_ x: Tensor, sample n: Int, map: PixelMap, target: Int, scorer: Scorer,
                         random: inout SeededRandom) throws -> Result {
        try check()
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let ranked = map.ranked(order)
        let image = Array(UnsafeBufferPointer(start: x.pointer + n * c * h * w, count: c * h * w))
        var inputs = [image]
        for p in percentages {
            inputs.append(LinearImputation.impute(image, channels: c, height: h, width: w,
                                                  removed: Array(ranked.prefix(Self.count(p, of: h * w))),
                                                  noise: noise, random: &random))
        }
        let readings = try scorer.read(count: inputs.count, shape: [c, h, w], target: target) { i, out in
            copy(inputs[i], to: out)
        }
        return Result(curve: readings.map(\.score), correct: readings.dropFirst().map(\.isTop))
    }
}
