import CKernels
import SRRuntime

/// The sum of the K smallest dissimilarities `d` between a query patch and every other
/// candidate patch of one scale search (`ContextAwareSaliency.singleScale`), one row at a time.
///
/// Both ways start from a bound: the previous query's K-th smallest d (a neighbouring patch,
/// so its K nearest are at a similar distance) with a quarter's room, then twice that,
/// then none, until K candidates are surely below it; only the few hundred candidates below
/// the bound are kept, and one quickselect takes the K smallest.
struct NearestPatches {
    let dim: Int, m: Int, k: Int
    /// The candidates' patch vectors (`[m, dim]`, the queries first), squared norms and norms.
    let vectors: UnsafePointer<Double>, norms: UnsafePointer<Double>, lengths: UnsafePointer<Double>
    let ys: UnsafePointer<Float>, xs: UnsafePointer<Float>
    let scale: Float, weight: Float
    /// The float32 product's error bound on z over ‖a‖‖b‖.
    let slack: Double

    /// One worker's buffers: a block's float32 dot products, the kept candidates' intervals,
    /// indices and distances; the float64 products only once a block needs them.
    final class Workspace {
        let block: Int, m: Int
        let dots: UnsafeMutablePointer<Float>
        let lo: UnsafeMutablePointer<Float>, hi: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        let index: UnsafeMutablePointer<Int32>
        private(set) var dots64: UnsafeMutablePointer<Double>?

        init(block: Int, m: Int) {
            (self.block, self.m) = (block, m)
            dots = .allocate(capacity: block * m)
            (lo, hi, scratch, index) = (.allocate(capacity: m), .allocate(capacity: m), .allocate(capacity: m), .allocate(capacity: m))
        }

        func float64Dots() -> UnsafeMutablePointer<Double> {
            if let d = dots64 { return d }
            let d = UnsafeMutablePointer<Double>.allocate(capacity: block * m)
            dots64 = d
            return d
        }

        func deallocate() {
            for p in [dots, lo, hi, scratch] { p.deallocate() }
            index.deallocate()
            dots64?.deallocate()
        }
    }

    /// The bounds tried in turn after a query whose K-th smallest d was `previous`.
    static func bounds(after previous: Float) -> [Float] {
        [(previous * 1.25).nextUp, (previous * 2).nextUp, .infinity]
    }

    /// Query `q` from its row of float32 dot products: the sum of its K smallest d, the
    /// largest of them, and how many candidates were measured directly.
    ///
    /// A bound B is enough once K candidates have `hi < B`: then the K-th smallest d is
    /// below B, and every candidate that can be among the K nearest (`lo ≤ d`) was kept.
    /// Among those, U = the K-th smallest `hi` bounds the K-th smallest d again, so only the
    /// candidates with `lo ≤ U` are measured (`srk_patch_exact`).
    func screened(query q: Int, dots: UnsafePointer<Float>, previous: Float, work: Workspace)
        -> (sum: Double, largest: Float, measured: Int) {
        var kept = 0, surely = 0
        for bound in Self.bounds(after: previous) {
            kept = srk_patch_screen(dots, norms, lengths, norms[q], slack * lengths[q], ys, xs, ys[q], xs[q], scale, weight,
                                    bound, q, work.lo, work.hi, work.index, 0, m, &surely)
            if surely >= k { break }
        }
        work.scratch.update(from: work.hi, count: kept)
        let u = smallestSum(work.scratch, count: kept, k: k).largest
        var band = 0
        for i in 0..<kept where work.lo[i] <= u {
            work.index[band] = work.index[i]
            band += 1
        }
        srk_patch_exact(vectors, dim, q, work.index, band, ys, xs, scale, weight, work.scratch)
        let (sum, largest) = smallestSum(work.scratch, count: band, k: k)
        return (sum, largest, band)
    }

    /// The queries `queries` from a float64 product of their rows (`cblas_dgemm`; the
    /// difference of `‖a‖² + ‖b‖² − 2a·b` cancels, so float64 is what keeps it accurate):
    /// `srk_patch_distances_below` keeps the d below each bound. Calls `emit(q, sum)` per
    /// query; returns the last query's K-th smallest d.
    func exact(queries: Range<Int>, previous: Float, work: Workspace, emit: (Int, Double) -> Void) -> Float {
        let dots = work.float64Dots()
        BLAS.dgemmSingle(m: queries.count, n: m, k: dim, a: vectors + queries.lowerBound * dim, lda: dim, b: vectors, ldb: dim,
                         c: dots, ldc: m)
        var previous = previous
        for (i, q) in queries.enumerated() {
            var kept = 0
            for bound in Self.bounds(after: previous) {
                kept = srk_patch_distances_below(dots + i * m, norms, norms[q], ys, xs, ys[q], xs[q], scale, weight, bound, q,
                                                 work.lo, 0, m)
                if kept >= k { break }
            }
            let (sum, largest) = smallestSum(work.lo, count: kept, k: k)
            emit(q, sum)
            previous = largest
        }
        return previous
    }
}
