/// The pointing game (Zhang et al. 2018) as Quantus 0.6.0's `PointingGame` (not weighted):
/// a hit (1) when a pixel holding the map's maximum lies in the mask — any of several equal
/// maxima counts — else 0; NaN for an empty mask. `tolerance` (pixels, srtool's addition;
/// Zhang et al. use 15 px, Quantus has none) also counts a maximum within that Euclidean
/// distance of a mask pixel.
public enum PointingGame {
    public static func score(_ map: PixelMap, mask: Mask, tolerance: Int = 0, name: String = "the mask") throws -> Double {
        try mask.check(map, name: name)
        guard mask.count > 0 else { return .nan }
        let best = map.values.max() ?? 0
        let w = map.width
        let t = max(tolerance, 0)
        for (p, v) in map.values.enumerated() where v == best {
            let (i, j) = (p / w, p % w)
            for a in max(i - t, 0)...min(i + t, map.height - 1) {
                for b in max(j - t, 0)...min(j + t, w - 1)
                where (a - i) * (a - i) + (b - j) * (b - j) <= t * t && mask.inside[a * w + b] {
                    return 1
                }
            }
        }
        return 0
    }
}
