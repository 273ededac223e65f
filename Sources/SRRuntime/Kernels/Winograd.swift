import CKernels
import SRCore

/// Which Winograd algorithm a wide 3×3 stride-1 convolution may run as.
public enum WinogradTile: Sendable {
    /// F(2×2, 3×3) only, on maps of at least 64 of its tiles: float32 error of the order of
    /// a direct convolution's. For the forward pass under an explanation (ReLU and max-pool
    /// switches) and for LRP, whose stabilised divisions amplify any error in z.
    case f2x2
    /// F(4×4, 3×3) on maps with at least 49 of its tiles per batch (28×28 and up), else
    /// F(2×2, 3×3), down to 49 of its tiles (14×14): 44 % fewer multiplications in the
    /// products, for a forward pass whose output is the result (`run`, `predict`, `eval`'s
    /// scores) and a gradient's backward convolutions.
    case f4x4
}

extension Kernels {
    /// Whether `conv2d` takes the Winograd path: a 3×3 kernel, stride 1, no dilation, at
    /// least 16 input and output channels per group, and at least 64 output tiles in the
    /// batch, or 49 (a 14×14 map) where `tile` allows F(4×4): there ResNet-50's 256-channel
    /// 3×3 takes 1.1 ms this way against 1.5 ms by im2col, but under an explanation the
    /// different rounding moved a max-pool switch of VGG-16's gradient (3.5 % of its largest
    /// value away from Captum's, against 0.005 % by im2col). Thinner products, and smaller
    /// maps (7×7: 16 tiles, where the 16 products are too narrow and reading the transformed
    /// filters dominates), stay im2col.
    static func winogradApplies(_ a: Conv2DAttributes, inChannels cg: Int, outChannels og: Int, outShape: [Int],
                                tile: WinogradTile) -> Bool {
        let tiles = outShape[0] * ((outShape[2] + 1) / 2) * ((outShape[3] + 1) / 2)
        return a.kernel == [3, 3] && a.stride == [1, 1] && a.dilation == [1, 1] && cg >= 16 && og >= 16
            && tiles >= (tile == .f4x4 ? 49 : 64)
    }

    /// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray,
    /// "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 output tile is
    /// `Y = Aᵀ[Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)]A` over the 4×4 input patch `d_c` at
    /// `(2·ty − pt, 2·tx − pl)` (zero outside), so the channel sum becomes 16 sgemms
    /// `M_ξ[O × T] = U_ξ[O × C] · V_ξ[C × T]`, one per element ξ of the 4×4 transform
    /// domain: 2.25× fewer multiplications than im2col. Tiles are taken in blocks whose
    /// transforms stay in cache; with few tiles (late layers) the phases are split across
    /// workers instead of the blocks.
    /// `transposed`: `w` is the OIHW weight of the convolution whose input-gradient this is
    /// (x is then its dY), so the flipped kernel is never materialised.
    static func conv2dWinograd(_ x: Tensor, weight w: Tensor, transposed: Bool = false, bias: Tensor?, _ a: Conv2DAttributes,
                               outShape: [Int], scratch: Scratch, reluSlope: Float?, tile: WinogradTile) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (outShape[1], outShape[2], outShape[3])
        let g = a.group, cg = c / g, og = o / g
        let f4 = tile == .f4x4 && n * ((ho + 3) / 4) * ((wo + 3) / 4) >= 49
        let size = f4 ? 4 : 2, elements = f4 ? 36 : 16
        let (th, tw) = ((ho + size - 1) / size, (wo + size - 1) / size)
        let tiles = th * tw
        let out = Tensor(uninitialized: outShape)
        let workers = Parallel.threads
        // Blocks of about 32 K channel·tiles (a 16 × C × T transform of 2 MB), their count
        // rounded up to a multiple of the workers; few tiles in all → one block per image.
        let perWorker = n * g * tiles >= workers * 128 * 16 / elements
        let target = max(32, min(256, 32768 * 16 / elements / max(cg, og)))
        var blocks = perWorker ? (tiles + target - 1) / target : 1
        while perWorker && (n * g * blocks) % workers != 0 { blocks += 1 }
        let tb = (tiles + blocks - 1) / blocks
        let vCount = elements * cg * tb, mCount = elements * og * tb
        let lanes = perWorker ? workers : 1
        // Eight floats past the end: F(4×4)'s output transform reads whole eight-tile groups.
        let base = scratch.buffer(lanes * (vCount + mCount) + 8)
        // The products are PackedGEMM's, the transformed filters kept packed. F(2×2)'s under an
        // explanation had kept OpenBLAS's, which packs the filters again on every call:
        // VGG-16's gradient 193 → 185 ms with them packed, its distance from Captum in
        // float64 and LRP's from zennit in float64 unchanged to three digits.
        let each = PackedGEMM.packedCount(rows: og, depth: cg)
        // Kept in a local until the end: the cache may start over while this call runs.
        let kind = (f4 ? "winograd-f4" : "winograd") + (transposed ? "-transposed" : "")
        let filters = scratch.derived(from: w, kind: kind, groups: g) { t in
            let u = Tensor(uninitialized: [g, elements, og, cg])
            if f4 {
                transformWeightsF4(t, groups: g, transposed: transposed, into: u.pointer)
            } else {
                transformWeights(t, groups: g, transposed: transposed, into: u.pointer)
            }
            let p = Tensor(uninitialized: [g * elements * each])
            for i in 0..<(g * elements) {
                srk_pack(u.pointer + i * og * cg, Int32(og), Int32(cg), cg, 1, p.pointer + i * each)
            }
            return p
        }
        let u = filters.pointer
        let biasPointer = bias?.pointer

        /// One block of tiles `t0..<t0+count` of image `img`, group `grp`, on buffers `v`, `m`.
        func inputs(_ img: Int, _ grp: Int, _ t0: Int, _ count: Int, _ v: UnsafeMutablePointer<Float>, channels: Range<Int>) {
            let src = x.pointer + (img * c + grp * cg) * h * wd
            for ch in channels {
                if f4 {
                    transformInputF4(src + ch * h * wd, height: h, width: wd, pads: (a.pads[0], a.pads[1]), tilesWide: tw,
                                     tiles: t0..<(t0 + count), into: v + ch * count, stride: cg * count)
                } else {
                    transformInput(src + ch * h * wd, height: h, width: wd, pads: (a.pads[0], a.pads[1]), tilesWide: tw,
                                   tiles: t0..<(t0 + count), into: v + ch * count, stride: cg * count)
                }
            }
        }
        func multiply(_ grp: Int, _ count: Int, _ v: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                      elements range: Range<Int>) {
            let rows = (0..<cg).map { $0 * count }, columns = Array(0..<count)
            let panels = 0..<((og + PackedGEMM.panelRows - 1) / PackedGEMM.panelRows)
            for e in range {
                PackedGEMM.multiply(u + (grp * elements + e) * each, rows: og, depth: cg,
                                    x: PackedGEMM.Operand(base: v + e * cg * count, rows: rows, columns: columns),
                                    out: m + e * og * count, ldo: count, panels: panels, columns: 0..<count)
            }
        }
        func outputs(_ img: Int, _ grp: Int, _ t0: Int, _ count: Int, _ m: UnsafeMutablePointer<Float>, channels: Range<Int>) {
            for oc in channels {
                let ch = grp * og + oc
                if f4 {
                    transformOutputF4(m + oc * count, stride: og * count, tiles: t0..<(t0 + count), tilesWide: tw,
                                      into: out.pointer + (img * o + ch) * ho * wo, height: ho, width: wo,
                                      bias: biasPointer?[ch] ?? 0, reluSlope: reluSlope)
                } else {
                    transformOutput(m + oc * count, stride: og * count, tiles: t0..<(t0 + count), tilesWide: tw,
                                    into: out.pointer + (img * o + ch) * ho * wo, height: ho, width: wo,
                                    bias: biasPointer?[ch] ?? 0, reluSlope: reluSlope)
                }
            }
        }

        if perWorker {
            let tasks = n * g * blocks
            Parallel.forEachWorker(tasks) { worker, range in
                let v = base + worker * (vCount + mCount), m = v + vCount
                for t in range {
                    let img = t / (g * blocks), grp = (t / blocks) % g
                    let t0 = (t % blocks) * tb, count = min(tb, tiles - t0)
                    guard count > 0 else { continue }
                    inputs(img, grp, t0, count, v, channels: 0..<cg)
                    multiply(grp, count, v, m, elements: 0..<elements)
                    outputs(img, grp, t0, count, m, channels: 0..<og)
                }
            }
        } else {
            let v = base, m = v + vCount
            for img in 0..<n {
                for grp in 0..<g {
                    Parallel.forEach(cg, minChunk: 4) { inputs(img, grp, 0, tiles, v, channels: $0) }
                    Parallel.forEach(elements) { multiply(grp, tiles, v, m, elements: $0) }
                    Parallel.forEach(og, minChunk: 4) { outputs(img, grp, 0, tiles, m, channels: $0) }
                }
            }
        }
        withExtendedLifetime(filters) {}
        return out
    }

    /// `U_ξ[o, c] = (G g Gᵀ)_ξ` for every 3×3 filter g = W[o, c], G = [[1, 0, 0], [½, ½, ½],
    /// [½, −½, ½], [0, 0, 1]]; layout `[group][ξ][og][cg]`. `transposed`: the filters of the
    /// input-gradient convolution instead, `g[o, c] = W[c, o]` rotated by 180° per group
    /// (o now runs over W's input channels, c over its output channels).
    private static func transformWeights(_ w: Tensor, groups g: Int, transposed: Bool, into u: UnsafeMutablePointer<Float>) {
        let (rows, cols) = transposed ? (w.shape[1] * g, w.shape[0] / g) : (w.shape[0], w.shape[1])
        let og = rows / g
        Parallel.forEach(rows, minChunk: 16) { range in
            for oc in range {
                let grp = oc / og, row = oc % og
                for ch in 0..<cols {
                    let (g0, g1, g2) = filterRows(w, transposed: transposed, group: grp, row: row, column: ch, columns: cols,
                                                  rowsPerGroup: og)
                    // q = G·g row by row (4 rows of 3, lane 3 unused), then U = q·Gᵀ.
                    let q0 = g0, q1 = (g0 + g1 + g2) * 0.5, q2 = (g0 - g1 + g2) * 0.5, q3 = g2
                    @inline(__always) func store(_ r: Int, _ q: SIMD4<Float>) {
                        let p = u + ((grp * 16 + r * 4) * og + row) * cols + ch, e = og * cols
                        p[0] = q[0]
                        p[e] = (q[0] + q[1] + q[2]) * 0.5
                        p[2 * e] = (q[0] - q[1] + q[2]) * 0.5
                        p[3 * e] = q[2]
                    }
                    store(0, q0); store(1, q1); store(2, q2); store(3, q3)
                }
            }
        }
    }

    /// The 3×3 filter `g[o, c]` (o = `row` of `group`, c = `column`) as its three rows, lane 3
    /// zero: `W[o, c]`, or with `transposed` `W[c, o]` rotated by 180° (see `transformWeights`).
    @inline(__always)
    static func filterRows(_ w: Tensor, transposed: Bool, group: Int, row: Int, column: Int, columns: Int,
                           rowsPerGroup og: Int) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
        if transposed {
            let f = w.pointer + ((group * columns + column) * og + row) * 9
            return (SIMD4(f[8], f[7], f[6], 0), SIMD4(f[5], f[4], f[3], 0), SIMD4(f[2], f[1], f[0], 0))
        }
        let f = w.pointer + ((group * og + row) * columns + column) * 9
        return (SIMD4(f[0], f[1], f[2], 0), SIMD4(f[3], f[4], f[5], 0), SIMD4(f[6], f[7], f[8], 0))
    }

    /// `V_ξ = (Bᵀ d B)_ξ` for the 4×4 patch d of each tile, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0],
    /// [0, −1, 1, 0], [0, 1, 0, −1]]; element ξ of tile j goes to `v[ξ·stride + j]`. On
    /// AVX-512 by CKernels' `srk_winograd_input`, sixteen tiles a vector, else
    /// `transformInputLanes8`, with the same bits.
    private static func transformInput(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
                                       pads: (Int, Int), tilesWide tw: Int, tiles: Range<Int>,
                                       into v: UnsafeMutablePointer<Float>, stride: Int) {
        if srk_winograd_input(2, plane, Int32(h), Int32(w), Int32(pads.0), Int32(pads.1), Int32(tw), Int32(tiles.lowerBound),
                              Int32(tiles.upperBound), v, stride) != 0 { return }
        transformInputLanes8(plane, height: h, width: w, pads: pads, tilesWide: tw, tiles: tiles, into: v, stride: stride)
    }

    /// `transformInput` eight tiles of one tile row inside the image at a time: their patch
    /// columns k are the even (k = 0, 2) and odd (k = 1, 3) lanes of 16 pixels from `ix` and
    /// from `ix + 2`; one tile at a time at the border.
    static func transformInputLanes8(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
                                     pads: (Int, Int), tilesWide tw: Int, tiles: Range<Int>,
                                     into v: UnsafeMutablePointer<Float>, stride: Int) {
        var j = 0
        let count = tiles.count
        while j < count {
            let t = tiles.lowerBound + j
            let tx = t % tw
            let iy = 2 * (t / tw) - pads.0, ix = 2 * tx - pads.1
            if j + 8 <= count && tx + 8 <= tw && ix >= 0 && ix + 18 <= w {
                // Row r of the eight patches as its four columns.
                @inline(__always) func row(_ r: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                    guard iy + r >= 0 && iy + r < h else { return (.zero, .zero, .zero, .zero) }
                    let line = plane + (iy + r) * w + ix
                    let a = UnsafeRawPointer(line).loadUnaligned(as: SIMD16<Float>.self)
                    let b = UnsafeRawPointer(line + 2).loadUnaligned(as: SIMD16<Float>.self)
                    return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                }
                let (a0, a1, a2, a3) = row(0), (b0, b1, b2, b3) = row(1), (c0, c1, c2, c3) = row(2), (e0, e1, e2, e3) = row(3)
                @inline(__always) func store(_ i: Int, _ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>) {
                    let p = UnsafeMutableRawPointer(v + i * 4 * stride + j), bytes = stride * 4
                    p.storeBytes(of: r0 - r2, as: SIMD8<Float>.self)
                    p.storeBytes(of: r1 + r2, toByteOffset: bytes, as: SIMD8<Float>.self)
                    p.storeBytes(of: r2 - r1, toByteOffset: 2 * bytes, as: SIMD8<Float>.self)
                    p.storeBytes(of: r1 - r3, toByteOffset: 3 * bytes, as: SIMD8<Float>.self)
                }
                // Bᵀ over the rows, then B over the columns.
                store(0, a0 - c0, a1 - c1, a2 - c2, a3 - c3)
                store(1, b0 + c0, b1 + c1, b2 + c2, b3 + c3)
                store(2, c0 - b0, c1 - b1, c2 - b2, c3 - b3)
                store(3, b0 - e0, b1 - e1, b2 - e2, b3 - e3)
                j += 8
                continue
            }
            @inline(__always) func row(_ r: Int) -> SIMD4<Float> {
                let y = iy + r
                guard y >= 0 && y < h else { return .zero }
                let line = plane + y * w
                if ix >= 0 && ix + 4 <= w { return UnsafeRawPointer(line + ix).loadUnaligned(as: SIMD4<Float>.self) }
                var s = SIMD4<Float>.zero
                for k in 0..<4 where ix + k >= 0 && ix + k < w { s[k] = line[ix + k] }
                return s
            }
            let (d0, d1, d2, d3) = (row(0), row(1), row(2), row(3))
            // Bᵀ over rows, then B over columns.
            let r0 = d0 - d2, r1 = d1 + d2, r2 = d2 - d1, r3 = d1 - d3
            @inline(__always) func store(_ i: Int, _ r: SIMD4<Float>) {
                let p = v + i * 4 * stride + j
                p[0] = r[0] - r[2]
                p[stride] = r[1] + r[2]
                p[2 * stride] = r[2] - r[1]
                p[3 * stride] = r[1] - r[3]
            }
            store(0, r0); store(1, r1); store(2, r2); store(3, r3)
            j += 1
        }
    }

    /// `Y = Aᵀ M A` (Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]) for each tile, element ξ read from
    /// `m[ξ·stride + j]`; adds the bias, applies the fused (leaky) ReLU and writes the part
    /// of the 2×2 tile inside the output plane. Eight tiles of one tile row at a time where
    /// their 16 output columns are inside the plane.
    @inline(__always)
    private static func transformOutput(_ m: UnsafeMutablePointer<Float>, stride: Int, tiles: Range<Int>, tilesWide tw: Int,
                                        into plane: UnsafeMutablePointer<Float>, height ho: Int, width wo: Int,
                                        bias: Float, reluSlope: Float?) {
        var j = 0
        let count = tiles.count
        while j < count {
            let t = tiles.lowerBound + j
            let tx = t % tw
            let oy = 2 * (t / tw), ox = 2 * tx
            if j + 8 <= count && tx + 8 <= tw && ox + 16 <= wo {
                @inline(__always) func load(_ e: Int) -> SIMD8<Float> {
                    UnsafeRawPointer(m + e * stride + j).loadUnaligned(as: SIMD8<Float>.self)
                }
                @inline(__always) func finish(_ y: SIMD8<Float>) -> SIMD8<Float> {
                    let z = y + bias
                    guard let slope = reluSlope else { return z }
                    return z.replacing(with: z * slope, where: z .< 0)
                }
                @inline(__always) func column(_ b: Int) -> (SIMD8<Float>, SIMD8<Float>) {
                    let (m0, m1, m2, m3) = (load(b), load(4 + b), load(8 + b), load(12 + b))
                    return (m0 + m1 + m2, m1 - m2 - m3)
                }
                let (p0, q0) = column(0), (p1, q1) = column(1), (p2, q2) = column(2), (p3, q3) = column(3)
                let s0 = (p0, p1, p2, p3), s1 = (q0, q1, q2, q3)
                let y00 = finish(s0.0 + s0.1 + s0.2), y01 = finish(s0.1 - s0.2 - s0.3)
                let y10 = finish(s1.0 + s1.1 + s1.2), y11 = finish(s1.1 - s1.2 - s1.3)
                let line = plane + oy * wo + ox
                UnsafeMutableRawPointer(line).storeBytes(of: interleave(y00, y01), as: SIMD16<Float>.self)
                if oy + 1 < ho {
                    UnsafeMutableRawPointer(line + wo).storeBytes(of: interleave(y10, y11), as: SIMD16<Float>.self)
                }
                j += 8
                continue
            }
            @inline(__always) func row(_ r: Int) -> SIMD4<Float> {
                let p = m + r * 4 * stride + j
                return SIMD4(p[0], p[stride], p[2 * stride], p[3 * stride])
            }
            let (m0, m1, m2, m3) = (row(0), row(1), row(2), row(3))
            let s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
            var y = SIMD4<Float>(s0[0] + s0[1] + s0[2], s0[1] - s0[2] - s0[3],
                                 s1[0] + s1[1] + s1[2], s1[1] - s1[2] - s1[3]) + bias
            if let slope = reluSlope { y = y.replacing(with: y * slope, where: y .< 0) }
            let line = plane + oy * wo + ox
            if ox + 1 < wo {
                line[0] = y[0]; line[1] = y[1]
                if oy + 1 < ho { line[wo] = y[2]; line[wo + 1] = y[3] }
            } else {
                line[0] = y[0]
                if oy + 1 < ho { line[wo] = y[2] }
            }
            j += 1
        }
    }

    /// `(a₀, b₀, a₁, b₁, …)`.
    @inline(__always)
    private static func interleave(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD16<Float> {
        SIMD16(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
    }
}
