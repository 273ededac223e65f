import Foundation

/// The low frequencies of patches under the orthonormal 2-D DCT-II, one transform per channel:
/// a patch holds `channels` planes of `side × side` values (channel-major, then rows, as
/// `ContextAwareSaliency.patches` lays them out); its coefficients are the `kept × kept`
/// lowest frequencies of each plane, and the rest is summed as a norm. The transform is
/// orthonormal, so a squared distance between two patches is the squared distance of their
/// kept coefficients plus that of the rest (which lies between 0 and the squared sum of the
/// two patches' rest norms).
struct LowFrequencies {
    let side: Int, channels: Int, kept: Int
    /// `basis[u·side + x] = √((u == 0 ? 1 : 2) / side) · cos(π(2x + 1)u / (2·side))`.
    private let basis: [Double]

    init(side: Int, channels: Int, kept: Int) {
        (self.side, self.channels, self.kept) = (side, channels, min(kept, side))
        basis = (0..<(side * side)).map { i in
            let (u, x) = (i / side, i % side)
            return ((u == 0 ? 1 : 2) / Double(side)).squareRoot() * cos(Double.pi * Double(2 * x + 1) * Double(u) / Double(2 * side))
        }
    }

    /// Coefficients per patch.
    var count: Int { channels * kept * kept }

    /// Writes the patch's `count` kept coefficients to `out`; returns the squared norm of the
    /// rest. `rows` is scratch of side × side values.
    func transform(_ patch: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>, rows: UnsafeMutablePointer<Double>) -> Double {
        var rest = 0.0, o = 0
        for c in 0..<channels {
            let plane = patch + c * side * side
            // rows[u][x] = Σ_y basis[u][y]·plane[y][x]; then Y[u][v] = Σ_x rows[u][x]·basis[v][x].
            for u in 0..<side {
                for x in 0..<side {
                    var sum = 0.0
                    for y in 0..<side { sum += basis[u * side + y] * plane[y * side + x] }
                    rows[u * side + x] = sum
                }
            }
            for u in 0..<side {
                for v in 0..<side {
                    var sum = 0.0
                    for x in 0..<side { sum += rows[u * side + x] * basis[v * side + x] }
                    if u < kept && v < kept {
                        out[o] = sum
                        o += 1
                    } else {
                        rest += sum * sum
                    }
                }
            }
        }
        return rest
    }
}
