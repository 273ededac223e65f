import Foundation
import SRCore
import SRRuntime

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
    /// The share of a row's candidates measured directly in float64 past which a block of
    /// rows turns to the float64 product of whole patches: one direct distance costs about as
    /// much as the product's eight (147 multiply-adds, gathered, against the product's eight
    /// per cycle). Flat images, and small ones, where K is a large share of the row, go past
    /// it. Not a parameter of the method: the result is the same either way.
    var measuredShare = 0.125

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

    /// `S_i = 1 − exp(−(1/K) Σ_{k≤K} d(p_i, q_k))` for every query patch, in blocks of rows
    /// spread across cores: each block's float32 products screened row by row
    /// (`NearestPatches.screened`), or, where that would measure too many candidates directly
    /// (flat images, small ones: past `measuredShare` of a row), the rest of the block from
    /// float64 products (`exact`).
    func singleScale(_ query: Patches, _ candidates: [Patches], progress: ((Double) -> Void)? = nil) -> [Double] {
        let nearest = NearestPatches(query: query, candidates: candidates, side: patch, neighbours: neighbours,
                                     positionWeight: positionWeight)
        let n = query.count, k = nearest.k
        func saliency(_ sum: Double) -> Double { 1 - exp(-(k > 0 ? sum / Double(k) : 0)) }
        var out = [Double](repeating: 0, count: n)
        // Blocks of ~256 rows, as many for each worker (27 blocks on two workers left one
        // waiting for the 27th).
        let workers = max(1, Parallel.threads)
        let blocks = ((n + 255) / 256 + workers - 1) / workers * workers
        let block = max(1, (n + blocks - 1) / blocks)
        let limit = Int(Double(nearest.m) * measuredShare)
        let counter = BlockCounter()
        out.withUnsafeMutableBufferPointer { outPtr in
            guard let outBase = outPtr.baseAddress else { return }
            Parallel.forEach(blocks) { range in
                let work = NearestPatches.Workspace(block: block, m: nearest.m)
                // The K-th smallest d of the previous query: a neighbouring patch's.
                var previous = Float.infinity
                for b in range where b * block < n {
                    let rows = (b * block)..<min(n, (b + 1) * block)
                    nearest.float32Products(rows, into: work)
                    var measured = 0, i = 0
                    while i < rows.count && measured <= i * limit {
                        let (sum, largest, band) = nearest.screened(query: rows.lowerBound + i, row: i, previous: previous, work: work)
                        (outBase[rows.lowerBound + i], previous, measured) = (saliency(sum), largest, measured + band)
                        i += 1
                    }
                    if i < rows.count {
                        previous = nearest.exact(queries: (rows.lowerBound + i)..<rows.upperBound, previous: previous, work: work) {
                            outBase[$0] = saliency($1)
                        }
                    }
                    if let progress { progress(Double(counter.increment()) / Double(blocks)) }
                }
            }
        }
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
