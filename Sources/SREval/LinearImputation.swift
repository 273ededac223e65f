/// ROAD's noisy linear imputation (Rong et al. 2022; Quantus 0.6.0's
/// `noisy_linear_imputation`): every removed pixel becomes the weighted mean of its eight
/// neighbours inside the image (weight 1/6 along the axes, 1/12 on the diagonals), removed
/// neighbours being unknowns themselves, solved per channel as one sparse linear system,
/// then `noise · N(0, 1)` is added to each imputed value. Quantus solves with SciPy's
/// `spsolve`; the system is symmetric positive definite when a pixel is kept, so srtool
/// solves it by conjugate gradients (Jacobi-preconditioned) in float64 to a relative
/// residual of 1e-12.
enum LinearImputation {
    static let neighbours: [(Int, Int, Double)] = [
        (1, 1, 1.0 / 12), (0, 1, 1.0 / 6), (-1, 1, 1.0 / 12), (1, -1, 1.0 / 12),
        (0, -1, 1.0 / 6), (-1, -1, 1.0 / 12), (1, 0, 1.0 / 6), (-1, 0, 1.0 / 6),
    ]

    /// `image` `[C, H, W]` with the pixels in `removed` imputed.
    static func impute(_ image: [Float], channels c: Int, height h: Int, width w: Int, removed: [Int],
                       noise: Double, random: inout SeededRandom) -> [Float] {
        var out = image
        let k = removed.count
        guard k > 0 else { return out }
        let hw = h * w
        var variable = [Int](repeating: -1, count: hw)
        for (v, p) in removed.enumerated() { variable[p] = v }
        // Per unknown v: its diagonal (the weights of its neighbours inside the image), its
        // unknown neighbours (CSR: links[start[v]..<start[v+1]]) and the right-hand side
        // Σ weight · known neighbour, per channel (rhs[v * c + ch]).
        var diagonal = [Double](repeating: 0, count: k)
        var start = [Int](repeating: 0, count: k + 1)
        var linked: [Int] = [], weights: [Double] = []
        var rhs = [Double](repeating: 0, count: k * c)
        for (v, p) in removed.enumerated() {
            let (i, j) = (p / w, p % w)
            for (di, dj, weight) in neighbours {
                let (a, b) = (i + di, j + dj)
                guard a >= 0, a < h, b >= 0, b < w else { continue }
                diagonal[v] += weight
                let q = a * w + b
                if variable[q] >= 0 {
                    linked.append(variable[q]); weights.append(weight)
                } else {
                    for ch in 0..<c { rhs[v * c + ch] += weight * Double(image[ch * hw + q]) }
                }
            }
            start[v + 1] = linked.count
        }
        let x = conjugateGradients(System(diagonal: diagonal, start: start, linked: linked, weights: weights), rhs: rhs, columns: c)
        for (v, p) in removed.enumerated() {
            for ch in 0..<c { out[ch * hw + p] = Float(x[v * c + ch]) }
        }
        // Quantus adds one draw per imputed value, channel by channel.
        if noise != 0 {
            for ch in 0..<c {
                for p in removed { out[ch * hw + p] = Float(Double(out[ch * hw + p]) + noise * random.gaussian()) }
            }
        }
        return out
    }

    /// (D − L): D = diag(diagonal), L the symmetric links between unknowns, in CSR.
    struct System {
        var diagonal: [Double]
        var start: [Int]
        var linked: [Int]
        var weights: [Double]
    }

    /// Solves (D − L) X = B for `columns` right-hand sides at once (`[k, columns]`, row-major),
    /// each column by its own Jacobi-preconditioned conjugate gradients.
    static func conjugateGradients(_ m: System, rhs: [Double], columns c: Int) -> [Double] {
        let k = m.diagonal.count
        var x = [Double](repeating: 0, count: k * c)
        var r = rhs, z = rhs, p = rhs, q = rhs
        var rz = [Double](repeating: 0, count: c), norm = [Double](repeating: 0, count: c)
        var done = [Bool](repeating: false, count: c)
        m.diagonal.withUnsafeBufferPointer { d in m.start.withUnsafeBufferPointer { start in
        m.linked.withUnsafeBufferPointer { linked in m.weights.withUnsafeBufferPointer { weights in
            for v in 0..<k { for ch in 0..<c { z[v * c + ch] = r[v * c + ch] / d[v] } }
            p = z
            for v in 0..<(k * c) { rz[v % c] += r[v] * z[v]; norm[v % c] += rhs[v] * rhs[v] }
            let stop = norm.map { 1e-24 * max($0, 1e-300) }
            for _ in 0..<(10 * k + 100) {
                var rr = [Double](repeating: 0, count: c)
                for v in 0..<(k * c) { rr[v % c] += r[v] * r[v] }
                for ch in 0..<c where rr[ch] <= stop[ch] { done[ch] = true }
                if !done.contains(false) { break }
                // q = (D − L) p
                for v in 0..<k {
                    for ch in 0..<c {
                        var s = d[v] * p[v * c + ch]
                        for e in start[v]..<start[v + 1] { s -= weights[e] * p[linked[e] * c + ch] }
                        q[v * c + ch] = s
                    }
                }
                var pq = [Double](repeating: 0, count: c)
                for v in 0..<(k * c) { pq[v % c] += p[v] * q[v] }
                var next = [Double](repeating: 0, count: c)
                for v in 0..<k {
                    for ch in 0..<c where !done[ch] {
                        let e = v * c + ch, alpha = rz[ch] / pq[ch]
                        x[e] += alpha * p[e]
                        r[e] -= alpha * q[e]
                        z[e] = r[e] / d[v]
                        next[ch] += r[e] * z[e]
                    }
                }
                for v in 0..<k {
                    for ch in 0..<c where !done[ch] {
                        let e = v * c + ch
                        p[e] = z[e] + next[ch] / rz[ch] * p[e]
                    }
                }
                for ch in 0..<c where !done[ch] { rz[ch] = next[ch] }
            }
        } } } }
        return x
    }
}
