/// Relevance rank accuracy (Arras et al. 2022) as Quantus 0.6.0's `RelevanceRankAccuracy`:
/// with K the mask's size, the share of the K most relevant pixels (signed, ties in raster
/// order) that lie in the mask; NaN for an empty mask.
public enum RelevanceRank {
    public static func score(_ map: PixelMap, mask: Mask, name: String = "the mask") throws -> Double {
        try mask.check(map, name: name)
        let k = mask.count
        guard k > 0 else { return .nan }
        let hits = map.ranked(.morf).prefix(k).reduce(0) { $0 + (mask.inside[$1] ? 1 : 0) }
        return Double(hits) / Double(k)
    }
}
