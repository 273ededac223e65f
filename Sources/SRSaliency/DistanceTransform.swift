/// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): the distance in
/// pixels from every pixel to the nearest `true` one, by two passes of the 1-D squared
/// transform (lower envelope of parabolas). No `true` pixel: every distance is 0.
enum DistanceTransform {
    static func euclidean(_ mask: [Bool], height: Int, width: Int) -> [Double] {
        guard mask.contains(true) else { return [Double](repeating: 0, count: mask.count) }
        let inf = 1e20
        var f = mask.map { $0 ? 0 : inf }
        var column = [Double](repeating: 0, count: height)
        for x in 0..<width {
            for y in 0..<height { column[y] = f[y * width + x] }
            let d = transform1D(column)
            for y in 0..<height { f[y * width + x] = d[y] }
        }
        var row = [Double](repeating: 0, count: width)
        for y in 0..<height {
            for x in 0..<width { row[x] = f[y * width + x] }
            let d = transform1D(row)
            for x in 0..<width { f[y * width + x] = d[x].squareRoot() }
        }
        return f
    }

    /// `d(q) = min_p (q − p)² + f(p)`.
    static func transform1D(_ f: [Double]) -> [Double] {
        let n = f.count
        var d = [Double](repeating: 0, count: n)
        var v = [Int](repeating: 0, count: n), z = [Double](repeating: 0, count: n + 1)
        var k = 0
        z[0] = -.infinity; z[1] = .infinity
        for q in 1..<max(n, 1) {
            var s = ((f[q] + Double(q * q)) - (f[v[k]] + Double(v[k] * v[k]))) / Double(2 * q - 2 * v[k])
            while s <= z[k] {
                k -= 1
                s = ((f[q] + Double(q * q)) - (f[v[k]] + Double(v[k] * v[k]))) / Double(2 * q - 2 * v[k])
            }
            k += 1
            v[k] = q; z[k] = s; z[k + 1] = .infinity
        }
        k = 0
        for q in 0..<n {
            while z[k + 1] < Double(q) { k += 1 }
            d[q] = Double((q - v[k]) * (q - v[k])) + f[v[k]]
        }
        return d
    }
}
