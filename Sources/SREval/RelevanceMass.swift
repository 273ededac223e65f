/// Relevance mass accuracy (Arras et al. 2022) as Quantus 0.6.0's `RelevanceMassAccuracy`:
/// the signed relevance inside the mask over the signed total (Quantus: abs off), so it can
/// leave [0, 1] when relevance is negative; NaN for an empty mask.
public enum RelevanceMass {
    public static func score(_ map: PixelMap, mask: Mask, name: String = "the mask") throws -> Double {
        try mask.check(map, name: name)
        guard mask.count > 0 else { return .nan }
        var inside = 0.0, total = 0.0
        for (p, v) in map.values.enumerated() {
            total += v
            if mask.inside[p] { inside += v }
        }
        return inside / total
    }
}
