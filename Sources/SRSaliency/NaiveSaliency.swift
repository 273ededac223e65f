import Foundation

/// The slow twin of `ContextAwareSaliency`: every patch pair's distance directly, a full
/// sort for the K nearest, and a brute-force distance to the attended pixels.
public enum NaiveSaliency {
    public static func map(_ p: ContextAwareSaliency, rgb: [Double], height: Int, width: Int) -> [Double] {
        let lab = Planes(channels: 3, height: height, width: width, values: CIELab.convert(rgb, height: height, width: width))
        var mean = [Double](repeating: 0, count: height * width)
        for r in p.scales {
            let query = p.patches(p.scaled(lab, r))
            let candidates = [query, p.patches(p.scaled(lab, r / 2)), p.patches(p.scaled(lab, r / 4))]
            let dim = query.vectors.count / max(query.count, 1)
            let all = candidates.flatMap(\.vectors), positions = candidates.flatMap(\.positions)
            var grid = [Double](repeating: 0, count: query.count)
            for i in 0..<query.count {
                var d: [Double] = []
                for j in 0..<positions.count where j != i {
                    var c = 0.0
                    for t in 0..<dim { let e = all[i * dim + t] - all[j * dim + t]; c += e * e }
                    let (py, px) = (positions[i].0 - positions[j].0, positions[i].1 - positions[j].1)
                    d.append(c.squareRoot() / Double(dim).squareRoot() / (1 + p.positionWeight * (py * py + px * px).squareRoot()))
                }
                d.sort()
                let k = min(p.neighbours, d.count)
                grid[i] = 1 - exp(-(k > 0 ? d.prefix(k).reduce(0, +) / Double(k) : 0))
            }
            let up = Planes(channels: 1, height: query.rows, width: query.columns, values: grid).resized(height: height, width: width)
            for i in 0..<mean.count { mean[i] += up.values[i] / Double(p.scales.count) }
        }
        let s = minMax(mean)
        let attended = (0..<s.count).filter { s[$0] > p.threshold }
        var distance = [Double](repeating: 0, count: s.count)
        for i in 0..<s.count where !attended.isEmpty {
            let (y, x) = (i / width, i % width)
            distance[i] = attended.map { a -> Double in
                let (dy, dx) = (Double(a / width - y), Double(a % width - x))
                return (dy * dy + dx * dx).squareRoot()
            }.min() ?? 0
        }
        let far = distance.max() ?? 0
        return minMax(zip(s, distance).map { v, d in v * (1 - (far > 0 ? d / far : 0)) })
    }
}
