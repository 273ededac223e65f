import SRCore

/// Region perturbation (Samek et al. 2017) as Quantus 0.6.0's `RegionPerturbation`: the image
/// is cut into non-overlapping `patch` × `patch` squares in raster order (when a side does
/// not divide, the image is first padded — the input by repeating its edge, the attribution
/// with zeros — by ⌊r/2⌋ before and ⌈r/2⌉ after, r = patch − side mod patch); squares are
/// ordered by the sum of their relevance and the first `regions` replaced one after the
/// other, cumulatively, in the padded image (the baseline too is taken over it).
public struct RegionPerturbation: Sendable {
    public var patch: Int
    public var regions: Int
    public var baseline: Baseline
    public var order: Order

    public init(patch: Int = 8, regions: Int = 100, baseline: Baseline = .black, order: Order = .morf) {
        self.patch = patch; self.regions = regions; self.baseline = baseline; self.order = order
    }

    public func check(inputShape s: [Int]) throws {
        guard patch >= 1, regions >= 1 else { throw SRError.usage("--patch and --regions must be at least 1") }
        guard patch <= s[2], patch <= s[3] else {
            throw SRError.usage("--patch \(patch) is larger than the \(s[2])×\(s[3]) image")
        }
    }

    /// (before, after) padding of one side.
    static func padding(_ side: Int, _ patch: Int) -> (Int, Int) {
        let r = side % patch
        guard r != 0 else { return (0, 0) }
        return ((patch - r) / 2, (patch - r + 1) / 2)
    }

    public func evaluate(_ x: Tensor, sample n: Int, map: PixelMap, target: Int, scorer: Scorer,
                         random: inout SeededRandom) throws -> PerturbationCurve {
        try check(inputShape: x.shape)
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (top, bottom) = Self.padding(h, patch), (left, right) = Self.padding(w, patch)
        let (ph, pw) = (h + top + bottom, w + left + right)
        let source = x.pointer + n * c * h * w
        // The edge-padded input, [C, ph, pw].
        var state = [Float](repeating: 0, count: c * ph * pw)
        for k in 0..<c {
            for i in 0..<ph {
                let si = min(max(i - top, 0), h - 1)
                for j in 0..<pw {
                    state[(k * ph + i) * pw + j] = source[(k * h + si) * w + min(max(j - left, 0), w - 1)]
                }
            }
        }
        // Relevance per square (zero padding adds nothing).
        let (rows, cols) = (ph / patch, pw / patch)
        var sums = [Double](repeating: 0, count: rows * cols)
        for i in 0..<h {
            for j in 0..<w { sums[((i + top) / patch) * cols + (j + left) / patch] += map.values[i * w + j] }
        }
        let squares = Array(PixelMap.ranked(sums, order).prefix(regions))
        var made = 0
        let readings = try scorer.read(count: squares.count + 1, shape: [c, h, w], target: target) { i, out in
            while made < i {
                let v = state.withUnsafeBufferPointer { baseline.value($0, random: &random) }
                let (r0, c0) = (squares[made] / cols * patch, squares[made] % cols * patch)
                for k in 0..<c {
                    for r in r0..<(r0 + patch) {
                        for q in c0..<(c0 + patch) { state[(k * ph + r) * pw + q] = v }
                    }
                }
                made += 1
            }
            for k in 0..<c {
                for r in 0..<h {
                    for q in 0..<w { out[(k * h + r) * w + q] = state[(k * ph + r + top) * pw + q + left] }
                }
            }
        }
        let curve = readings.map(\.score)
        return PerturbationCurve(curve: curve, aucOf: curve.dropFirst().map { curve[0] - $0 })
    }
}
