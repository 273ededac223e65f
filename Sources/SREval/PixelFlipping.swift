import SRCore

/// Pixel flipping (Bach et al. 2015) as Quantus 0.6.0's `PixelFlipping`: pixels in order of
/// relevance, `pixelsPerStep` at a time (each with all its channels), are replaced by the
/// baseline, cumulatively; the curve is the target's score after each step. Quantus counts
/// steps in features of the channel-broadcast map (`features_in_step` = C · pixels); the last
/// step takes what is left.
public struct PixelFlipping: Sendable {
    public var pixelsPerStep: Int
    public var baseline: Baseline
    public var order: Order

    public init(pixelsPerStep: Int = 1, baseline: Baseline = .black, order: Order = .morf) {
        self.pixelsPerStep = pixelsPerStep; self.baseline = baseline; self.order = order
    }

    /// Checks the options against an `[N, C, H, W]` input.
    public func check(inputShape s: [Int]) throws {
        guard pixelsPerStep >= 1 else { throw SRError.usage("--features-per-step must be at least 1") }
        guard pixelsPerStep <= s[2] * s[3] else {
            throw SRError.usage("--features-per-step \(pixelsPerStep) is more than the image's \(s[2] * s[3]) pixels")
        }
    }

    /// Sample `n` of `x` `[N, C, H, W]` with its pixel map.
    public func evaluate(_ x: Tensor, sample n: Int, map: PixelMap, target: Int, scorer: Scorer,
                         random: inout SeededRandom) throws -> PerturbationCurve {
        try check(inputShape: x.shape)
        let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3])
        let ranked = map.ranked(order)
        let steps = (hw + pixelsPerStep - 1) / pixelsPerStep
        var state = Array(UnsafeBufferPointer(start: x.pointer + n * c * hw, count: c * hw))
        // Input i is the state after i steps; they are made in order, so one state suffices.
        var made = 0
        let readings = try scorer.read(count: steps + 1, shape: Array(x.shape.dropFirst()), target: target) { i, out in
            while made < i {
                let v = state.withUnsafeBufferPointer { baseline.value($0, random: &random) }
                for p in ranked[(made * pixelsPerStep)..<min((made + 1) * pixelsPerStep, hw)] {
                    for k in 0..<c { state[k * hw + p] = v }
                }
                made += 1
            }
            copy(state, to: out)
        }
        let curve = readings.map(\.score)
        return PerturbationCurve(curve: curve, aucOf: Array(curve.dropFirst()))
    }
}
