import CKernels
import SRRuntime

/// The sum of the K smallest dissimilarities `d` between a query patch and every other
/// candidate patch of one scale search (`ContextAwareSaliency.singleScale`), one row at a time,
/// exactly: `screened` from float32 products of the patches' low frequencies, which put each
/// d in an interval (their error is bounded: `(kept + 2)·u·‖a‖‖b‖` for any order of the sums,
/// and the dropped frequencies' share lies between 0 and a bound); only the candidates whose
/// interval reaches the K nearest are measured directly in float64. `exact` from a float64
/// product of the whole patches, for flat images, where thousands of candidates tie, and
/// small ones, where K is a large share of a row.
///
/// Both ways start from a bound: the previous query's K-th smallest d (a neighbouring patch,
/// so its K nearest are at a similar distance) with 5 % room, then 25 %, then twice it,
/// then none, until K candidates are surely below it (a failed bound costs one more pass
/// over the row, cheaper than the candidates a looser one keeps); only the few hundred
/// candidates below the bound are kept, and quickselects take the K smallest.
final class NearestPatches: @unchecked Sendable {
    let dim: Int, m: Int, k: Int
    /// The candidates' patch vectors (`[m, dim]`, the queries first), centred on the mean
    /// patch (distances stay, norms shrink, and so does the bound on the float32 product's
    /// error: Lab's a and b sit near 0.5 in every patch), and their squared norms.
    let vectors: UnsafeMutablePointer<Double>, norms: UnsafeMutablePointer<Double>
    /// The screening's view (`srk_patch_set`): each patch's 48 lowest frequencies
    /// (`LowFrequencies`, 4 × 4 per channel: a third of the multiply-adds of the whole patch,
    /// and on the bench images about as few candidates to measure) in float32, their squared
    /// norm and norm, the rest's norm, 1e-6 of the squared norm, and the positions.
    let coefficients: UnsafeMutablePointer<Float>, coefficientCount: Int
    private let columns: [UnsafeMutablePointer<Float>]
    let patchSet: UnsafeMutablePointer<srk_patch_set>
    /// The float32 product's error bound on z = ‖a‖² + ‖b‖² − 2a·b over ‖a‖‖b‖: twice
    /// `(kept + 2)·u` (float32 inputs, any order of the sums), with a hundredth of room.
    let slack: Double

    init(query: ContextAwareSaliency.Patches, candidates: [ContextAwareSaliency.Patches], side: Int, neighbours: Int,
         positionWeight: Double) {
        dim = query.vectors.count / max(query.count, 1)
        let positions = candidates.flatMap(\.positions)
        m = positions.count
        k = min(neighbours, m - 1)
        let (m, dim) = (m, dim)
        let v = UnsafeMutablePointer<Double>.allocate(capacity: m * dim)
        v.initialize(from: candidates.flatMap(\.vectors), count: m * dim)
        var mean = [Double](repeating: 0, count: dim)
        for j in 0..<m { for t in 0..<dim { mean[t] += v[j * dim + t] } }
        for t in 0..<dim { mean[t] /= Double(max(m, 1)) }
        for j in 0..<m { for t in 0..<dim { v[j * dim + t] -= mean[t] } }
        let n64 = UnsafeMutablePointer<Double>.allocate(capacity: m)
        let frequencies = LowFrequencies(side: side, channels: dim / max(side * side, 1), kept: 4)
        let kd = frequencies.count
        let c32 = UnsafeMutablePointer<Float>.allocate(capacity: m * kd)
        let columns = (0..<6).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: m) }
        let (n32, l32, r32, f32, y, x) = (columns[0], columns[1], columns[2], columns[3], columns[4], columns[5])
        Parallel.forEach(m, minChunk: 256) { range in
            let coefficient = UnsafeMutablePointer<Double>.allocate(capacity: kd)
            let rows = UnsafeMutablePointer<Double>.allocate(capacity: side * side)
            defer { coefficient.deallocate(); rows.deallocate() }
            for j in range {
                var sum = 0.0
                for t in 0..<dim { sum += v[j * dim + t] * v[j * dim + t] }
                n64[j] = sum
                let rest = frequencies.transform(v + j * dim, into: coefficient, rows: rows)
                var low = 0.0
                for t in 0..<kd {
                    c32[j * kd + t] = Float(coefficient[t])
                    low += coefficient[t] * coefficient[t]
                }
                (n32[j], l32[j], r32[j], f32[j]) = (Float(low), Float(low.squareRoot()), Float(rest.squareRoot()).nextUp, Float(1e-6 * sum))
                (y[j], x[j]) = (Float(positions[j].0), Float(positions[j].1))
            }
        }
        (vectors, norms, coefficients, coefficientCount, self.columns) = (v, n64, c32, kd, columns)
        patchSet = .allocate(capacity: 1)
        patchSet.initialize(to: srk_patch_set(norms: n32, lengths: l32, residuals: r32, floors: f32, ys: y, xs: x,
                                         scale: 1 / Float(dim).squareRoot(), weight: Float(positionWeight)))
        slack = 2 * Double(kd + 2) * 0x1p-24 * 1.01
    }

    deinit {
        vectors.deallocate()
        norms.deallocate()
        coefficients.deallocate()
        for p in columns { p.deallocate() }
        patchSet.deallocate()
    }

    /// The float32 dot products of the queries `rows`' kept coefficients with every
    /// candidate's, into `work.dots`.
    func float32Products(_ rows: Range<Int>, into work: Workspace) {
        // The query patches are the first rows of the candidates.
        let kd = coefficientCount
        BLAS.sgemmSingle(transB: true, m: rows.count, n: m, k: kd, a: coefficients + rows.lowerBound * kd, lda: kd, b: coefficients,
                         ldb: kd, c: work.dots, ldc: m)
    }

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

        deinit {
            for p in [dots, lo, hi, scratch] { p.deallocate() }
            index.deallocate()
            dots64?.deallocate()
        }
    }

    /// The bounds tried in turn after a query whose K-th smallest d was `previous`.
    static func bounds(after previous: Float) -> [Float] {
        [(previous * 1.05).nextUp, (previous * 1.25).nextUp, (previous * 2).nextUp, .infinity]
    }

    /// Query `q` from its row of float32 dot products: the sum of its K smallest d, the
    /// largest of them, and how many candidates were measured directly.
    ///
    /// A bound B is enough once K candidates have `hi < B`: then the K-th smallest d is
    /// below B, and every candidate that can be among the K nearest (`lo ≤ d`) was kept.
    /// Among those, U = the K-th smallest `hi` bounds the K-th smallest d again, so only the
    /// candidates with `lo ≤ U` are measured (`srk_patch_exact`).
    func screened(query q: Int, row: Int, previous: Float, work: Workspace) -> (sum: Double, largest: Float, measured: Int) {
        let dots = work.dots + row * m
        var kept = 0, surely = 0
        for bound in Self.bounds(after: previous) {
            kept = srk_patch_screen(patchSet, dots, q, Float(slack * Double(patchSet.pointee.lengths[q])), bound, work.lo, work.hi,
                                    work.scratch, work.index, 0, m, &surely)
            if surely >= k { break }
        }
        work.scratch.update(from: work.hi, count: kept)
        let u = smallestSum(work.scratch, count: kept, k: k).largest
        var band = 0
        for i in 0..<kept where work.lo[i] <= u {
            work.index[band] = work.index[i]
            band += 1
        }
        srk_patch_exact(patchSet, vectors, dim, q, work.index, band, work.scratch)
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
                kept = srk_patch_distances_below(patchSet, dots + i * m, norms, q, bound, work.lo, 0, m)
                if kept >= k { break }
            }
            let (sum, largest) = smallestSum(work.lo, count: kept, k: k)
            emit(q, sum)
            previous = largest
        }
        return previous
    }
}
