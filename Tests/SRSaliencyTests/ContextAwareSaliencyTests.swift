import Foundation
import SRCore
import SRFormats
import SRImage
import SRRuntime
import CKernels
@testable import SRSaliency
import SRTestSupport
import XCTest

/// Context-aware saliency against the brute-force float64 reference of
/// Tools/make_saliency_ca_fixtures.py (Fixtures/ca_saliency), the fast path against its
/// naive twin, and the AUC of each synthetic scene's map against its object mask.
final class ContextAwareSaliencyTests: XCTestCase {
    struct Manifest: Decodable {
        struct Case: Decodable {
            var image: String
            var working_size: Int
            var working_hw: [Int]
            var saliency: String
            var saliency_input: String
            var mask: String?
            var auc: Double?
        }
        var fixtures: [String: Case]
    }

    let folder = Fixtures.path("ca_saliency")

    func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
    }

    /// The working image exactly as `srtool saliency` makes it: Pillow-exact resize.
    func working(_ c: Manifest.Case) throws -> (rgb: [Double], image: RGBImage, h: Int, w: Int) {
        let image = try RGBImage.read(path: folder + "/" + c.image)
        let (h, w) = (c.working_hw[0], c.working_hw[1])
        let small = Resize.bilinear(image, width: w, height: h)
        return ((0..<3).flatMap { ch in (0..<(h * w)).map { Double(small.pixels[$0 * 3 + ch]) } }, image, h, w)
    }

    func testMapsMatchTheReference() throws {
        let m = try manifest()
        XCTAssertGreaterThanOrEqual(m.fixtures.count, 7)
        for (name, c) in m.fixtures.sorted(by: { $0.key < $1.key }) {
            let (rgb, image, h, w) = try working(c)
            let result = ContextAwareSaliency().saliency(rgb: rgb, height: h, width: w, workingSize: c.working_size)
            let want = try NPY.read(path: folder + "/" + c.saliency)
            if let why = closeness(result.working.map(Float.init), want.values, atol: 1e-5, rtol: 0) { XCTFail("\(name): \(why)") }
            // Back to the input size (half-pixel bilinear), as the reference does.
            let back = Planes(channels: 1, height: h, width: w, values: result.working).resized(height: image.height, width: image.width)
            let wantInput = try NPY.read(path: folder + "/" + c.saliency_input)
            if let why = closeness(back.values.map(Float.init), wantInput.values, atol: 1e-5, rtol: 0) { XCTFail("\(name) input size: \(why)") }
            if let maskFile = c.mask, let auc = c.auc {
                let mask = try RGBImage.read(path: folder + "/" + maskFile)
                let got = rocAUC(back.values, (0..<(mask.width * mask.height)).map { mask.pixels[$0 * 3] > 127 })
                XCTAssertEqual(got, auc, accuracy: 1e-3, name)
                XCTAssertGreaterThan(got, 0.9, "\(name): the object should stand out")
            }
        }
    }

    func testIntermediatesOfTheTinyImage() throws {
        let c = try XCTUnwrap(try manifest().fixtures["tiny"])
        let (rgb, _, h, w) = try working(c)
        let lab = CIELab.convert(rgb, height: h, width: w)
        // The fixture is [H, W, 3]; srtool keeps channel planes.
        let hwc = (0..<(h * w)).flatMap { i in (0..<3).map { lab[$0 * h * w + i] } }
        if let why = closeness(hwc.map(Float.init), try NPY.read(path: folder + "/tiny_lab.npy").values, atol: 1e-6, rtol: 0) {
            XCTFail("lab: \(why)")
        }
        let detector = ContextAwareSaliency()
        let planes = Planes(channels: 3, height: h, width: w, values: lab)
        for r in detector.scales {
            let q = detector.patches(detector.scaled(planes, r))
            let grid = detector.singleScale(q, [q, detector.patches(detector.scaled(planes, r / 2)),
                                               detector.patches(detector.scaled(planes, r / 4))])
            let want = try NPY.read(path: folder + "/tiny_scale_\(r).npy")
            XCTAssertEqual(want.shape, [q.rows, q.columns], "scale \(r)")
            if let why = closeness(grid.map(Float.init), want.values, atol: 1e-6, rtol: 0) { XCTFail("scale \(r): \(why)") }
        }
    }

    /// The fast path (screened float32 products, the float64 product it falls back to,
    /// quickselect, distance transform) equals the naive twin.
    func testFastPathEqualsNaiveTwin() throws {
        let m = try manifest()
        for name in ["tiny", "scene_disk"] {
            let c = try XCTUnwrap(m.fixtures[name])
            let (rgb, _, h, w) = try working(c)
            let slow = NaiveSaliency.map(ContextAwareSaliency(), rgb: rgb, height: h, width: w)
            // The default; every row screened (any share of a row may be measured directly);
            // every row but the first of each block from the float64 product (none may).
            for share in [ContextAwareSaliency().measuredShare, 1, 0] {
                var p = ContextAwareSaliency()
                p.measuredShare = share
                let fast = p.map(rgb: rgb, height: h, width: w)
                if let why = closeness(fast.map(Float.init), slow.map(Float.init), atol: 1e-5, rtol: 0) { XCTFail("\(name), share \(share): \(why)") }
            }
        }
    }

    /// The sum of the k smallest equals a full sort's: fewer values than k, exactly k, many
    /// more, in rising, falling and random order, with many ties (flat image regions).
    func testSmallestSumEqualsSort() {
        var rng = Seeded(state: 3)
        for (k, count) in [(1, 5), (3, 2), (64, 63), (64, 64), (64, 3000), (7, 10_000)] {
            let random = (0..<count).map { _ in Float(Int.random(in: 0..<40, using: &rng)) / 8 }
            for values in [random, random.sorted(), random.sorted(by: >)] {
                var p = values
                let (sum, largest) = smallestSum(&p, count: count, k: k)
                let want = values.sorted().prefix(k)
                XCTAssertEqual(sum, want.reduce(0.0) { $0 + Double($1) }, "k \(k), \(count) values")
                XCTAssertEqual(largest, want.last, "k \(k), \(count) values")
            }
        }
    }

    /// `srk_patch_distances_below` against the formula in Swift, bit for bit, at every
    /// instruction set this CPU runs: colour distances that cancel below 0, the query (skipped)
    /// inside a block of eight and in the tail, bounds that keep none, some and all.
    func testPatchDistancesEveryInstructionSet() {
        var rng = Seeded(state: 11)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let m = 45
        let norms = (0..<m).map { _ in Double.random(in: 0...40, using: &rng) }
        let ys = (0..<m).map { _ in Float.random(in: 0...1, using: &rng) }, xs = (0..<m).map { _ in Float.random(in: 0...1, using: &rng) }
        let (scale, weight) = (Float(0.08), Float(3))
        for (q, quantile) in [(5, -1), (43, m / 2), (15, m / 2), (0, 0)] {
            // 2·dots around norms[q] + norms[j], every fourth just above it (a cancelled distance below 0).
            let dots = norms.indices.map { j in (norms[q] + norms[j]) / 2 - (j % 4 == 1 ? -1e-9 : Double.random(in: 0...3, using: &rng)) }
            let all: [Float] = (0..<m).map { j in
                let z = (norms[q] + norms[j]) - 2 * dots[j]
                let (dy, dx) = (ys[q] - ys[j], xs[q] - xs[j])
                return Float(max(z, 0)).squareRoot() * scale / (1 + weight * (dy * dy + dx * dx).squareRoot())
            }
            XCTAssertTrue((0..<m).contains { norms[q] + norms[$0] - 2 * dots[$0] < 0 }, "no distance cancels below 0")
            // No bound, the median (and one ulp above it), 0.
            let bound = quantile < 0 ? Float.infinity : quantile == 0 ? 0 : all.sorted()[quantile].nextUp
            let want = (0..<m).filter { $0 != q && all[$0] < bound }.map { all[$0] }
            ys.withUnsafeBufferPointer { y in xs.withUnsafeBufferPointer { x in
                var set = srk_patch_set(norms: nil, lengths: nil, residuals: nil, floors: nil, ys: y.baseAddress, xs: x.baseAddress,
                                        scale: scale, weight: weight)
                for level in InstructionSet.allCases where level <= InstructionSet.supported {
                    XCTAssertEqual(InstructionSet.use(level), level)
                    var kept = [Float](repeating: .nan, count: m)
                    let count = srk_patch_distances_below(&set, dots, norms, q, bound, &kept, 0, m)
                    XCTAssertEqual(Array(kept.prefix(count)).map(\.bitPattern), want.map(\.bitPattern), "\(level), query \(q), bound \(bound)")
                }
            } }
        }
    }

    /// The screening from float32 products of low frequencies (`srk_patch_screen`) and the
    /// direct float64 distances (`srk_patch_exact`): the same bits at every instruction set
    /// this CPU runs; every kept candidate's exact d inside its [lo, hi]; every candidate with
    /// d below the bound kept; `surely` counting the hi below it. 45 patches of 7 × 7 × 3
    /// values: one the mean patch and one near it (0 or tiny once centred, so Δ's slack
    /// covers nothing there), one 1e-4 from the query, one a checkerboard (all its energy in
    /// the dropped frequencies); the skipped query inside a block of eight; bounds that keep
    /// none, some and all, and one raised to 1e-15.
    func testScreeningEveryInstructionSet() {
        var rng = Seeded(state: 5)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let (m, dim, q) = (45, 147, 9)
        var vectors = (0..<(m * dim)).map { _ in Double.random(in: 0...1, using: &rng) }
        for t in 0..<dim {
            vectors[4 * dim + t] = vectors[q * dim + t] + 1e-4
            vectors[6 * dim + t] = 0.5 + ((t % 7 + t / 7) % 2 == 0 ? 0.3 : -0.3)
        }
        for t in 0..<dim {
            vectors[3 * dim + t] = (0..<m).filter { $0 != 3 }.reduce(0.0) { $0 + vectors[$1 * dim + t] } / Double(m - 1)
        }
        for t in 0..<dim { vectors[5 * dim + t] = vectors[3 * dim + t] + 1e-4 }
        let positions = (0..<m).map { _ in (Double.random(in: 0...1, using: &rng), Double.random(in: 0...1, using: &rng)) }
        let patches = ContextAwareSaliency.Patches(rows: 1, columns: m, vectors: vectors, positions: positions)
        let nearest = NearestPatches(query: patches, candidates: [patches], side: 7, neighbours: 8, positionWeight: 3)
        let work = NearestPatches.Workspace(block: m, m: m)
        nearest.float32Products(0..<m, into: work)
        let set = nearest.patchSet.pointee
        let slack = Float(nearest.slack * Double(set.lengths[q]))
        var exact = [Float](repeating: .nan, count: m)
        let all = (0..<m).map(Int32.init)
        srk_patch_exact(nearest.patchSet, nearest.vectors, dim, q, all, m, &exact)
        let others = (0..<m).filter { $0 != q }.map { exact[$0] }.sorted()
        var first: [String: [UInt32]] = [:]
        for level in InstructionSet.allCases where level <= InstructionSet.supported {
            XCTAssertEqual(InstructionSet.use(level), level)
            var again = [Float](repeating: .nan, count: m)
            srk_patch_exact(nearest.patchSet, nearest.vectors, dim, q, all, m, &again)
            XCTAssertEqual(again.map(\.bitPattern), exact.map(\.bitPattern), "\(level): exact")
            for bound in [Float.infinity, others[m / 2], others[0], 1e-30, 0, -1] {
                var (lo, hi, spread) = ([Float](repeating: .nan, count: m), [Float](repeating: .nan, count: m), [Float](repeating: .nan, count: m))
                var index = [Int32](repeating: -1, count: m)
                var surely = -1
                let kept = srk_patch_screen(nearest.patchSet, work.dots + q * m, q, slack, bound, &lo, &hi, &spread, &index, 0, m, &surely)
                let keptIndex = Set(index.prefix(kept).map(Int.init))
                XCTAssertFalse(keptIndex.contains(q))
                for j in 0..<m where j != q && exact[j] < bound { XCTAssertTrue(keptIndex.contains(j), "\(level), bound \(bound): \(j) dropped") }
                for i in 0..<kept {
                    let j = Int(index[i])
                    XCTAssertTrue(lo[i] <= exact[j] && exact[j] <= hi[i], "\(level): \(j) \(exact[j]) outside [\(lo[i]), \(hi[i])]")
                }
                // A bound below 1e-15 is raised to it.
                XCTAssertEqual(surely, hi.prefix(kept).filter { $0 < max(bound, 1e-15) }.count, "\(level), bound \(bound)")
                let bits = (lo.prefix(kept) + hi.prefix(kept)).map(\.bitPattern) + index.prefix(kept).map { UInt32(bitPattern: $0) }
                XCTAssertEqual(bits, first[bound.description, default: bits], "\(level), bound \(bound)")
                first[bound.description] = bits
            }
        }
        // The direct float64 distance against a sum of the squares in Swift, from the input.
        for j in [0, 3, 4, 5, 6, 44] {
            let z = (0..<dim).reduce(0.0) { let e = vectors[q * dim + $1] - vectors[j * dim + $1]; return $0 + e * e }
            let (dy, dx) = (Float(positions[q].0) - Float(positions[j].0), Float(positions[q].1) - Float(positions[j].1))
            let want = Float(z).squareRoot() * set.scale / (1 + 3 * (dy * dy + dx * dx).squareRoot())
            XCTAssertEqual(exact[j], want, accuracy: want * 1e-6, "candidate \(j)")
        }
    }

    /// Area under the ROC curve by the rank-sum formula (ties get their mean rank).
    func rocAUC(_ scores: [Double], _ positive: [Bool]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            for k in i...j { ranks[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        let p = Double(positive.filter { $0 }.count), n = Double(positive.count) - p
        let rankSum = zip(ranks, positive).filter(\.1).reduce(0) { $0 + $1.0 }
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }
}
