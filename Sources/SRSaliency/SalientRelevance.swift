import SRCore

/// Salient Relevance maps (Li, Tian, Mueller & Chen, "Beyond saliency"): the LRP relevance
/// of an image, |R| per RGB channel min-max scaled to 0…255 and treated as an image, passed
/// through context-aware saliency.
public enum SalientRelevance {
    /// Image `n` of `[N, 3, H, W]` relevance as an RGB image (`[3, H, W]`, 0…255, rounded).
    public static func relevanceImage(_ r: Tensor, image n: Int) -> [Double] {
        let per = r.count / max(r.shape[0], 1)
        let values = (0..<per).map { Double(abs(r.pointer[n * per + $0])) }
        guard let lo = values.min(), let hi = values.max(), hi > lo else { return [Double](repeating: 0, count: per) }
        return values.map { (($0 - lo) / (hi - lo) * 255).rounded() }
    }

    /// The SR map of image `n` at the input size, `[H, W]` in [0, 1].
    public static func map(_ r: Tensor, image n: Int, saliency: ContextAwareSaliency, workingSize: Int,
                           progress: ((Double) -> Void)? = nil) throws -> [Double] {
        guard r.rank == 4, r.shape[1] == 3 else {
            throw SRError.unsupported("SR maps need a 3-channel (RGB) input relevance, got shape \(r.shape)")
        }
        return saliency.saliency(rgb: relevanceImage(r, image: n), height: r.shape[2], width: r.shape[3],
                                 workingSize: workingSize, progress: progress).input
    }

    /// The SR maps of every image of `[N, 3, H, W]` relevance, `[N, 1, H, W]` in [0, 1];
    /// `progress` is told the fraction done over all images.
    public static func maps(_ r: Tensor, saliency: ContextAwareSaliency, workingSize: Int,
                            progress: ((Double) -> Void)? = nil) throws -> Tensor {
        let (n, h, w) = (r.shape[0], r.shape[2], r.shape[3])
        let out = Tensor(uninitialized: [n, 1, h, w])
        for i in 0..<n {
            let s = try map(r, image: i, saliency: saliency, workingSize: workingSize,
                            progress: progress.map { report in { report((Double(i) + $0) / Double(n)) } })
            for k in 0..<(h * w) { out.pointer[i * h * w + k] = Float(s[k]) }
        }
        return out
    }
}
