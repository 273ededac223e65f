import Foundation
import SRCore
import SRRuntime
import CKernels

/// Context-aware saliency detection (Goferman, Zelnik-Manor & Tal, CVPR 2010), exactly as
/// srtool specifies it (README, "Context-aware saliency"): 7×7 Lab patches at stride 3, the
/// dissimilarity `d = d_color / (1 + c·d_position)`, single-scale saliency
/// `1 − exp(−mean of the K smallest d)` searched over scales {r, r/2, r/4}, averaged over
/// R = {100 %, 80 %, 50 %, 30 %}, then the immediate context (attended pixels > 0.8).
/// Every constant is a parameter with the paper's value as default.
public struct ContextAwareSaliency: Sendable {
    public var patch = 7
    public var stride = 3
    public var neighbours = 64
    public var positionWeight = 3.0
    public var scales: [Double] = [1, 0.8, 0.5, 0.3]
    public var threshold = 0.8

    public init() {}

    /// One scale's patches: vectors `[n, dim]` and normalised centre positions.
    struct Patches {
        var rows: Int
        var columns: Int
        var vectors: [Double]
        var positions: [(Double, Double)]
        var count: Int { rows * columns }
    }

    func patches(_ p: Planes) -> Patches {
        let rows = (p.height - patch) / stride + 1, columns = (p.width - patch) / stride + 1
        let dim = p.channels * patch * patch
        var vectors = [Double](repeating: 0, count: rows * columns * dim)
        var positions: [(Double, Double)] = []
        let side = Double(max(p.height, p.width))
        for r in 0..<rows {
            for c in 0..<columns {
                let (y0, x0) = (r * stride, c * stride)
                var k = (r * columns + c) * dim
                for ch in 0..<p.channels {
                    for y in 0..<patch {
                        for x in 0..<patch {
                            vectors[k] = p.values[(ch * p.height + y0 + y) * p.width + x0 + x]
                            k += 1
                        }
                    }
                }
                positions.append((Double(y0 + patch / 2) / side, Double(x0 + patch / 2) / side))
            }
        }
        return Patches(rows: rows, columns: columns, vectors: vectors, positions: positions)
    }

    /// The Lab image at scale `s` of the working image (at least one patch wide).
    func scaled(_ lab: Planes, _ s: Double) -> Planes {
        let h = max(patch, Int((Double(lab.height) * s).rounded(.toNearestOrEven)))
        let w = max(patch, Int((Double(lab.width) * s).rounded(.toNearestOrEven)))
        return lab.resized(height: h, width: w)
    }

    /// Saliency of an sRGB working image (`[3, H, W]`, values 0…255), `[H, W]` in [0, 1];
    /// `progress` is told the fraction done (the scales weighted by their patch pairs).
    public func map(rgb: [Double], height: Int, width: Int, progress: ((Double) -> Void)? = nil) -> [Double] {
        let lab = Planes(channels: 3, height: height, width: width, values: CIELab.convert(rgb, height: height, width: width))
        var cache: [Double: Patches] = [:]
        func patchesAt(_ s: Double) -> Patches {
            if let p = cache[s] { return p }
            let p = patches(scaled(lab, s))
            cache[s] = p
            return p
        }
        var mean = [Double](repeating: 0, count: height * width)
        // Patch pairs per scale ∝ (r² · (r² + r²/4 + r²/16)): the share of the work each takes.
        let cost = scales.map { $0 * $0 * $0 * $0 }, total = cost.reduce(0, +)
        var before = 0.0
        for (i, r) in scales.enumerated() {
            let query = patchesAt(r)
            let candidates = [query, patchesAt(r / 2), patchesAt(r / 4)]
            let share = cost[i] / total, start = before
            let grid = singleScale(query, candidates, progress: progress.map { report in { report(start + share * $0) } })
            before += share
            let up = Planes(channels: 1, height: query.rows, width: query.columns, values: grid).resized(height: height, width: width)
            for i in 0..<mean.count { mean[i] += up.values[i] / Double(scales.count) }
        }
        return immediateContext(mean, height: height, width: width)
    }

    /// `S_i = 1 − exp(−(1/K) Σ_{k≤K} d(p_i, q_k))` for every query patch; colour distances
    /// as blocked matrix products `‖a‖² + ‖b‖² − 2a·b` (`cblas_dgemm`: in float64, as that
    /// difference cancels), rows spread across cores. From the squared colour distance on,
    /// each pair's `d` is float32 (`srk_patch_distances_below`), and only the d below a
    /// bound are kept for the selection of the K smallest (relative error ~1e-7; their sum
    /// is taken in float64).
    func singleScale(_ query: Patches, _ candidates: [Patches], progress: ((Double) -> Void)? = nil) -> [Double] {
        let dim = query.vectors.count / max(query.count, 1)
        let all = candidates.flatMap(\.vectors), positions = candidates.flatMap(\.positions)
        let m = positions.count, n = query.count
        let norms = (0..<m).map { j in (0..<dim).reduce(0.0) { $0 + all[j * dim + $1] * all[j * dim + $1] } }
        let ys = positions.map { Float($0.0) }, xs = positions.map { Float($0.1) }
        let scale = 1 / Float(dim).squareRoot(), weight = Float(positionWeight)
        let k = min(neighbours, m - 1)
        var out = [Double](repeating: 0, count: n)
        let block = 256
        let blocks = (n + block - 1) / block
        let counter = BlockCounter()
        all.withUnsafeBufferPointer { allPtr in norms.withUnsafeBufferPointer { normPtr in
            ys.withUnsafeBufferPointer { yPtr in xs.withUnsafeBufferPointer { xPtr in
                out.withUnsafeMutableBufferPointer { outPtr in
                    guard let a = allPtr.baseAddress, let np = normPtr.baseAddress, let yp = yPtr.baseAddress,
                          let xp = xPtr.baseAddress, let outBase = outPtr.baseAddress else { return }
                    Parallel.forEach(blocks) { range in
                        let dots = UnsafeMutablePointer<Double>.allocate(capacity: block * m)
                        let kept = UnsafeMutablePointer<Float>.allocate(capacity: m)
                        defer { dots.deallocate(); kept.deallocate() }
                        // The K-th smallest d of the previous query: a neighbouring patch's,
                        // so, with a quarter's room, it bounds this one's in most rows, and
                        // only the few hundred d below it are kept; when fewer than K are,
                        // those below twice it, and then all of them.
                        var previous = Float.infinity
                        for b in range {
                            let lo = b * block, rows = min(block, n - lo)
                            // The query patches are the first rows of `all`.
                            BLAS.dgemmSingle(m: rows, n: m, k: dim, a: a + lo * dim, lda: dim, b: a, ldb: dim, c: dots, ldc: m)
                            for i in 0..<rows {
                                let qi = lo + i
                                func keep(below bound: Float) -> Int {
                                    srk_patch_distances_below(dots + i * m, np, np[qi], yp, xp, yp[qi], xp[qi], scale, weight,
                                                              bound, qi, kept, 0, m)
                                }
                                var count = keep(below: (previous * 1.25).nextUp)
                                if count < k { count = keep(below: (previous * 2).nextUp) }
                                if count < k { count = keep(below: .infinity) }
                                let (sum, largest) = smallestSum(kept, count: count, k: k)
                                previous = largest
                                outBase[qi] = 1 - exp(-(k > 0 ? sum / Double(k) : 0))
                            }
                            if let progress { progress(Double(counter.increment()) / Double(blocks)) }
                        }
                    }
                }
            } }
        } }
        return out
    }

    /// Min-max normalise, then weight every pixel by `1 − d_foci` (distance to the nearest
    /// pixel above `threshold`, over its maximum), and normalise again.
    func immediateContext(_ s: [Double], height: Int, width: Int) -> [Double] {
        let normalised = minMax(s)
        let attended = normalised.map { $0 > threshold }
        let distance = DistanceTransform.euclidean(attended, height: height, width: width)
        let far = distance.max() ?? 0
        return minMax(zip(normalised, distance).map { v, d in v * (1 - (far > 0 ? d / far : 0)) })
    }
}

func minMax(_ v: [Double]) -> [Double] {
    guard let lo = v.min(), let hi = v.max(), hi > lo else { return [Double](repeating: 0, count: v.count) }
    return v.map { ($0 - lo) / (hi - lo) }
}

extension ContextAwareSaliency {
    /// Saliency of an RGB image of any size (`[3, H, W]`, values 0…255): resized with
    /// half-pixel bilinear interpolation so its longer side is `workingSize` (photos arrive
    /// already resized by Pillow's filter, so nothing happens to them here), computed there,
    /// and resized back to `H × W`. Returns the map at the input size and at the working size.
    public func saliency(rgb: [Double], height: Int, width: Int, workingSize: Int = 250, progress: ((Double) -> Void)? = nil)
        -> (input: [Double], working: [Double], workingHeight: Int, workingWidth: Int) {
        let (wh, ww) = ContextAwareSaliency.workingShape(height: height, width: width, longSide: workingSize)
        let image = Planes(channels: 3, height: height, width: width, values: rgb).resized(height: wh, width: ww)
        let s = map(rgb: image.values, height: wh, width: ww, progress: progress)
        let back = Planes(channels: 1, height: wh, width: ww, values: s).resized(height: height, width: width)
        return (back.values, s, wh, ww)
    }

    /// The working size: the longer side becomes `longSide`, the other is rounded (half to even).
    public static func workingShape(height: Int, width: Int, longSide: Int) -> (Int, Int) {
        let long = max(height, width)
        func side(_ s: Int) -> Int { max(1, Int((Double(s) * Double(longSide) / Double(long)).rounded(.toNearestOrEven))) }
        return height >= width ? (longSide, side(width)) : (side(height), longSide)
    }
}

/// Blocks finished across workers (for progress).
private final class BlockCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; done += 1; return done }
}
