/// The value a perturbation writes into the pixels it removes, as Quantus 0.6.0's
/// `get_baseline_dict` computes it: from the sample as perturbed so far (all channels),
/// not from the original image.
public enum Baseline: String, CaseIterable, Sendable {
    /// The sample's minimum over every channel.
    case black
    /// The sample's maximum over every channel.
    case white
    /// The mean of the sample as perturbed so far: it drifts as pixels are replaced.
    case mean
    /// One value from U[0, 1) per step, for every pixel the step removes (a region perturbation's
    /// step is a region). Quantus: `np.random.uniform(0, 1, size=batch)` in `get_baseline_dict`
    /// (quantus/helpers/utils.py:163), called once per `batch_baseline_replacement_by_indices`,
    /// i.e. once per step for each sample, in PixelFlipping and RegionPerturbation alike.
    case uniform
    /// 0 (Quantus: `perturb_baseline=0.0`).
    case zero

    /// The value for the next step, from the current `values`.
    func value(_ values: UnsafeBufferPointer<Float>, random: inout SeededRandom) -> Float {
        switch self {
        case .black: return values.min() ?? 0
        case .white: return values.max() ?? 0
        case .mean: return Float(values.reduce(0.0) { $0 + Double($1) } / Double(max(values.count, 1)))
        case .uniform: return Float(random.uniform())
        case .zero: return 0
        }
    }
}
