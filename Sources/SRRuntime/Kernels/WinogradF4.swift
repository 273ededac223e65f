import CKernels
import SRCore

/// The transforms of Winograd's F(4×4, 3×3) (Lavin & Gray 2016, interpolation points
/// 0, ±1, ±2, ∞): a 4×4 output tile from a 6×6 input patch at `(4·ty − pt, 4·tx − pl)`,
/// 36 elements ξ in the transform domain: 2.25 multiplications per output where F(2×2, 3×3)
/// needs 4, at about five to ten times its float32 rounding error (still ~1e-6 of the
/// output's scale). Layouts as in `Winograd.swift`: `U[group][ξ][og][cg]`, element ξ of
/// tile j at `v[ξ·stride + j]` and `m[ξ·stride + j]`.
extension Kernels {
    /// `U_ξ = (G g Gᵀ)_ξ`, G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙],
    /// [1/24, −1/12, ⅙], [0, 0, 1]], computed in float64. `transposed` as in
    /// `transformWeights`: the filters of the input-gradient convolution.
    static func transformWeightsF4(_ w: Tensor, groups g: Int, transposed: Bool, into u0: UnsafeMutablePointer<Float>) {
        let (rows, cols) = transposed ? (w.shape[1] * g, w.shape[0] / g) : (w.shape[0], w.shape[1])
        let og = rows / g
        /// G·(x₀, x₁, x₂)ᵀ, lane by lane.
        @inline(__always) func apply(_ x0: SIMD4<Double>, _ x1: SIMD4<Double>, _ x2: SIMD4<Double>)
            -> (SIMD4<Double>, SIMD4<Double>, SIMD4<Double>, SIMD4<Double>, SIMD4<Double>, SIMD4<Double>) {
            let even = x0 + x2, odd = x0 / 24 + x2 / 6
            return (x0 / 4, -(even + x1) / 6, -(even - x1) / 6, odd + x1 / 12, odd - x1 / 12, x2)
        }
        Parallel.forEach(rows, minChunk: 16) { range in
            for oc in range {
                let grp = oc / og, row = oc % og
                for ch in 0..<cols {
                    let (g0, g1, g2) = filterRows(w, transposed: transposed, group: grp, row: row, column: ch,
                                                  columns: cols, rowsPerGroup: og)
                    // q = G·g (six rows of three), then each row of U = q_r·Gᵀ.
                    let q = apply(SIMD4<Double>(g0), SIMD4<Double>(g1), SIMD4<Double>(g2))
                    let e = og * cols
                    @inline(__always) func store(_ r: Int, _ q: SIMD4<Double>) {
                        let u = apply(SIMD4(repeating: q[0]), SIMD4(repeating: q[1]), SIMD4(repeating: q[2]))
                        let p = u0 + ((grp * 36 + r * 6) * og + row) * cols + ch
                        (p[0], p[e], p[2 * e], p[3 * e], p[4 * e], p[5 * e]) =
                            (Float(u.0[0]), Float(u.1[0]), Float(u.2[0]), Float(u.3[0]), Float(u.4[0]), Float(u.5[0]))
                    }
                    store(0, q.0); store(1, q.1); store(2, q.2); store(3, q.3); store(4, q.4); store(5, q.5)
                }
            }
        }
    }

    /// `Bᵀx` for Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
    /// [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]], eight lanes at once.
    @inline(__always)
    private static func inputTransform(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>,
                                       _ x4: SIMD8<Float>, _ x5: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let t1 = x4 - 4 * x2, t2 = x3 - 4 * x1, t3 = x4 - x2, t4 = 2 * (x3 - x1)
        return (4 * x0 - 5 * x2 + x4, t1 + t2, t1 - t2, t3 + t4, t3 - t4, 4 * x1 - 5 * x3 + x5)
    }

    /// `Aᵀm` for Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0],
    /// [0, 1, −1, 8, −8, 1]].
    @inline(__always)
    private static func outputTransform(_ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>,
                                        _ m4: SIMD8<Float>, _ m5: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        return (m0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + m5)
    }

    /// `V_ξ = (Bᵀ d B)_ξ` for the 6×6 patch d of each tile in `tiles`: on AVX-512 by CKernels'
    /// `srk_winograd_input`, sixteen tiles a vector (DenseNet-121's 3×3 layers, 128
    /// channels in and 32 out, had spent a tenth of its forward pass here), else
    /// `transformInputF4Lanes8`, with the same bits.
    static func transformInputF4(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int, pads: (Int, Int),
                                 tilesWide tw: Int, tiles: Range<Int>, into v: UnsafeMutablePointer<Float>, stride: Int) {
        if srk_winograd_input(4, plane, Int32(h), Int32(w), Int32(pads.0), Int32(pads.1), Int32(tw), Int32(tiles.lowerBound),
                              Int32(tiles.upperBound), v, stride) != 0 { return }
        transformInputF4Lanes8(plane, height: h, width: w, pads: pads, tilesWide: tw, tiles: tiles, into: v, stride: stride)
    }

    /// `transformInputF4` eight tiles at a time. Per tile row, the six input rows it reads are
    /// copied once into zero-padded lines (column 0 = input column −pl), so every tile, at the
    /// border too, takes the eight-lane path: patch column k of eight neighbouring tiles is
    /// every fourth float from `4·tx + k`.
    static func transformInputF4Lanes8(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int, pads: (Int, Int),
                                       tilesWide tw: Int, tiles: Range<Int>, into v: UnsafeMutablePointer<Float>,
                                       stride: Int) {
        let lineWidth = 4 * tw + 40
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 6 * lineWidth + 36 * 8) { space in
            guard let lines = space.baseAddress else { return }
            let rows = lines + 6 * lineWidth
            var loadedRow = -1
            tileGroups(tiles, tilesWide: tw) { j, ty, tx, group in
                if ty != loadedRow {
                    loadedRow = ty
                    for r in 0..<6 {
                        let line = lines + r * lineWidth, y = 4 * ty - pads.0 + r
                        guard y >= 0 && y < h else { line.update(repeating: 0, count: lineWidth); continue }
                        // Input columns x ∈ [lo, hi) land at x + pl; the rest of the line is zero.
                        let lo = max(0, -pads.1), hi = max(lo, min(w, lineWidth - pads.1))
                        line.update(repeating: 0, count: lo + pads.1)
                        (line + lo + pads.1).update(from: plane + y * w + lo, count: hi - lo)
                        (line + hi + pads.1).update(repeating: 0, count: lineWidth - hi - pads.1)
                    }
                }
                // Bᵀ over each row's six columns into `rows`, then over the six rows.
                for r in 0..<6 {
                    let p = UnsafeRawPointer(lines + r * lineWidth + 4 * tx)
                    let a = p.loadUnaligned(as: SIMD32<Float>.self), b = p.loadUnaligned(fromByteOffset: 16, as: SIMD32<Float>.self)
                    let (ae, ao, be, bo) = (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                    let y = inputTransform(ae.evenHalf, ao.evenHalf, ae.oddHalf, ao.oddHalf, be.evenHalf, bo.evenHalf)
                    let out = UnsafeMutableRawPointer(rows + r * 48)
                    out.storeBytes(of: y.0, as: SIMD8<Float>.self)
                    out.storeBytes(of: y.1, toByteOffset: 32, as: SIMD8<Float>.self)
                    out.storeBytes(of: y.2, toByteOffset: 64, as: SIMD8<Float>.self)
                    out.storeBytes(of: y.3, toByteOffset: 96, as: SIMD8<Float>.self)
                    out.storeBytes(of: y.4, toByteOffset: 128, as: SIMD8<Float>.self)
                    out.storeBytes(of: y.5, toByteOffset: 160, as: SIMD8<Float>.self)
                }
                for k in 0..<6 {
                    @inline(__always) func at(_ r: Int) -> SIMD8<Float> {
                        UnsafeRawPointer(rows + r * 48 + k * 8).loadUnaligned(as: SIMD8<Float>.self)
                    }
                    let y = inputTransform(at(0), at(1), at(2), at(3), at(4), at(5))
                    @inline(__always) func put(_ i: Int, _ value: SIMD8<Float>) {
                        let dst = v + (i * 6 + k) * stride + j
                        if group == 8 {
                            UnsafeMutableRawPointer(dst).storeBytes(of: value, as: SIMD8<Float>.self)
                        } else {
                            for l in 0..<group { dst[l] = value[l] }
                        }
                    }
                    put(0, y.0); put(1, y.1); put(2, y.2); put(3, y.3); put(4, y.4); put(5, y.5)
                }
            }
        }
    }

    /// `Y = Aᵀ M A` for each tile in `tiles`, plus the bias and the fused (leaky) ReLU, eight
    /// tiles of one tile row at a time; the part of each 4×4 tile inside the plane is written.
    static func transformOutputF4(_ m: UnsafeMutablePointer<Float>, stride: Int, tiles: Range<Int>, tilesWide tw: Int,
                                  into plane: UnsafeMutablePointer<Float>, height ho: Int, width wo: Int,
                                  bias: Float, reluSlope: Float?) {
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 24) { space in
            guard let cols = space.baseAddress else { return }
            tileGroups(tiles, tilesWide: tw) { j, ty, tx, group in
                // Aᵀ over the rows of M for each of its six columns (reads past the last tile
                // stay inside the caller's padded buffer and are not written out).
                for k in 0..<6 {
                    @inline(__always) func at(_ r: Int) -> SIMD8<Float> {
                        UnsafeRawPointer(m + (r * 6 + k) * stride + j).loadUnaligned(as: SIMD8<Float>.self)
                    }
                    let s = outputTransform(at(0), at(1), at(2), at(3), at(4), at(5))
                    (cols[k], cols[6 + k], cols[12 + k], cols[18 + k]) = s
                }
                let oy = 4 * ty, ox = 4 * tx
                for i in 0..<4 where oy + i < ho {
                    let r = cols + 6 * i
                    var y = outputTransform(r[0], r[1], r[2], r[3], r[4], r[5])
                    @inline(__always) func finish(_ z: inout SIMD8<Float>) {
                        z += bias
                        if let slope = reluSlope { z = z.replacing(with: z * slope, where: z .< 0) }
                    }
                    finish(&y.0); finish(&y.1); finish(&y.2); finish(&y.3)
                    let line = plane + (oy + i) * wo + ox
                    let row = interleave4(y.0, y.1, y.2, y.3)
                    if group == 8 && ox + 32 <= wo {
                        UnsafeMutableRawPointer(line).storeBytes(of: row, as: SIMD32<Float>.self)
                    } else {
                        for l in 0..<min(4 * group, wo - ox) { line[l] = row[l] }
                    }
                }
            }
        }
    }

    /// `body(j, ty, tx, count)` for each run of at most eight tiles of one tile row in `tiles`,
    /// starting at tile `tiles.lowerBound + j` = (ty, tx).
    @inline(__always)
    private static func tileGroups(_ tiles: Range<Int>, tilesWide tw: Int, _ body: (Int, Int, Int, Int) -> Void) {
        var j = 0
        while j < tiles.count {
            let t = tiles.lowerBound + j, tx = t % tw
            let group = min(8, tiles.count - j, tw - tx)
            body(j, t / tw, tx, group)
            j += group
        }
    }

    /// `(a₀, b₀, c₀, d₀, a₁, b₁, …)`.
    @inline(__always)
    private static func interleave4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD32<Float> {
        var r = SIMD32<Float>()
        for l in 0..<8 { r[4 * l] = a[l]; r[4 * l + 1] = b[l]; r[4 * l + 2] = c[l]; r[4 * l + 3] = d[l] }
        return r
    }
}
