import Foundation
import SRCore

extension Kernels {
    /// 2-D convolution, NCHW input, OIHW weight, via im2col + sgemm per image and group
    /// (an image's first layer at stride 2 by `stemConv2d` on AVX-512; depthwise and other
    /// first layers run as direct loops, `directConv2d`; a 1×1
    /// stride-1 unpadded convolution multiplies the input directly, by `pointwiseConv2d`
    /// where `pointwiseApplies`; a wide 3×3 stride-1 one runs as Winograd F(2×2, 3×3) or,
    /// where `winograd` allows, F(4×4, 3×3), `Winograd.swift`; with `packedWeights`, the
    /// others by packed weights, `packedConv2d`). The im2col matrix is built a band of output
    /// rows at a time, so it stays in cache. `activation`, when given, runs on each band while it
    /// is in cache (the executor's conv → activation fusion). `residual`, a tensor of the
    /// output's shape, is added before the activation (the executor's conv → add fusion,
    /// ResNet's and MobileNetV2's skip connections): `activation((conv + bias) + residual)`,
    /// the sums in the order of the separate operations; inside the 1×1 paths' epilogue,
    /// else as one pass after the convolution.
    public static func conv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ a: Conv2DAttributes, outShape: [Int],
                              scratch: Scratch = Scratch(), activation: FusedActivation? = nil, residual: Tensor? = nil,
                              winograd: WinogradTile = .f2x2, packedWeights: Bool = true) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (outShape[1], outShape[2], outShape[3])
        let g = a.group, cg = c / g, og = o / g
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let k = cg * kh * kw, p = ho * wo
        // The direct loops and the packed product copy the input into zero-padded planes; a pad
        // past the kernel's reach (a window wholly in the padding, which a file may ask for with
        // a stride as large) would make those planes as large as the pads, unbounded by the
        // input or the output. Such a convolution runs unfolded (im2col reads the input in place).
        let padsInReach = a.pads[0] <= (kh - 1) * a.dilation[0] && a.pads[2] <= (kh - 1) * a.dilation[0]
            && a.pads[1] <= (kw - 1) * a.dilation[1] && a.pads[3] <= (kw - 1) * a.dilation[1]
        // Depthwise, and under an explanation an image's first layer when it has few outputs
        // and taps (VGG-16's; MobileNet's and EfficientNet's 3×3 stride-2 stems go to
        // `stemConv2d` below where it runs): direct loops. A forward-only run takes such a
        // first layer as a packed product (MobileNetV2's stem: about 0.6 → 0.54 ms on one
        // thread, 0.40 ms by `stemConv2d`).
        let loops = padsInReach && ((cg == 1 && g > 1)
            || (winograd != .f4x4 && cg <= 4 && og <= 64 && kh * kw <= 25 && a.stride[1] <= 2))
        let direct = kh == 1 && kw == 1 && a.stride == [1, 1] && a.pads == [0, 0, 0, 0]
        // Every other convolution except Winograd's as a packed-weight product over the input
        // itself, in forward-only runs and under explanations alike: its sums in blocks
        // (gemm.c) put the ReLU and max-pool switches as near the float64 truth as OpenBLAS's
        // products over im2col matrices (VGG-16's gradient on three seeds). The packed weights
        // are kept per weight tensor; `packedWeights: false` (LRP's modified weights, w⁺, w⁻,
        // w + γw⁺, a copy of the model each, whose packed copies took ResNet-50's LRP peak
        // from 750 to 1000 MB, above zennit's) keeps OpenBLAS's products instead. A 1×1 that
        // `pointwiseApplies` names goes to `pointwiseConv2d` instead (on 7×7 to 32×32 maps the
        // packed product was up to twice as fast as its Swift loops: MobileNetV2's 14×14 and
        // 28×28 expansions).
        let pointwise = direct && pointwiseApplies(inChannels: k, pixels: p)
        // A stem (few input channels, stride 2) by its own kernel, with the bits of the path it
        // stands in for: the direct loops' (`loops`: under an explanation) or the packed product's.
        if residual == nil && padsInReach && (loops || packedWeights) && stemApplies(a, inChannels: c) {
            return stemConv2d(x, weight: w, bias: bias, a, outShape: outShape, activation: activation, fused: !loops)
        }
        if packedWeights && padsInReach && !loops && !pointwise
            && !winogradApplies(a, inChannels: cg, outChannels: og, outShape: outShape, tile: winograd) {
            return packedConv2d(x, weight: w, bias: bias, a, outShape: outShape, scratch: scratch, activation: activation,
                                residual: residual)
        }
        if let residual, loops || !direct {
            let y = conv2d(x, weight: w, bias: bias, a, outShape: outShape, scratch: scratch, winograd: winograd)
            addResidual(y, residual, activation: activation)
            return y
        }
        if loops {
            if winograd == .f4x4 && depthwiseApplies(a, channels: c, outChannels: o, outWidth: wo) {
                return depthwiseConv2d(x, weight: w, bias: bias, a, outShape: outShape, scratch: scratch,
                                       activation: activation)
            }
            return directConv2d(x, weight: w, bias: bias, a, outShape: outShape, activation: activation,
                                fused: winograd == .f4x4)
        }
        if pointwise || (direct && k <= 64) {
            return pointwiseConv2d(x, weight: w, bias: bias, groups: g, outShape: outShape, activation: activation,
                                   residual: residual)
        }
        let out = Tensor(uninitialized: outShape)
        if direct {
            for img in 0..<n {
                for grp in 0..<g {
                    let offset = (img * o + grp * og) * p
                    BLAS.sgemm(m: og, n: p, k: k, a: w.pointer + grp * og * k, lda: k,
                               b: x.pointer + (img * c + grp * cg) * h * wd, ldb: p, c: out.pointer + offset, ldc: p)
                    epilogue(out.pointer + offset, channels: og, columns: 0..<p, stride: p, bias: bias.map { $0.pointer + grp * og },
                             activation: activation, residual: residual.map { $0.pointer + offset })
                }
            }
            return out
        }
        if winogradApplies(a, inChannels: cg, outChannels: og, outShape: outShape, tile: winograd) {
            // Winograd's output transform applies a (leaky) ReLU itself; any other activation
            // runs as one pass after it.
            if case .relu(let slope)? = activation {
                return conv2dWinograd(x, weight: w, bias: bias, a, outShape: outShape, scratch: scratch, reluSlope: slope,
                                      tile: winograd)
            }
            let y = conv2dWinograd(x, weight: w, bias: bias, a, outShape: outShape, scratch: scratch, reluSlope: nil,
                                   tile: winograd)
            if let activation { _ = unaryInPlace(y, activation) }
            return y
        }
        // Small maps (ResNet's 7×7 and 14×14 stages): bands of a few rows would make
        // multiplications a few dozen columns wide, so the map is unfolded once and the
        // workers split the output channels instead.
        if p <= 256 && n * g < Parallel.threads && og >= 32 * Parallel.threads {
            let col = scratch.buffer(k * p)
            for img in 0..<n {
                for grp in 0..<g {
                    let dst = out.pointer + (img * o + grp * og) * p
                    im2col(x.pointer + (img * c + grp * cg) * h * wd, channels: cg, height: h, width: wd, a,
                           outHeight: ho, outWidth: wo, rows: 0..<ho, into: col)
                    Parallel.forEach(og, minChunk: 16) { r in
                        BLAS.sgemmSingle(m: r.count, n: p, k: k, a: w.pointer + (grp * og + r.lowerBound) * k, lda: k,
                                         b: col, ldb: p, c: dst + r.lowerBound * p, ldc: p)
                        epilogue(dst + r.lowerBound * p, channels: r.count, columns: 0..<p, stride: p,
                                 bias: bias.map { $0.pointer + grp * og + r.lowerBound }, activation: activation,
                                 parallel: false)
                    }
                }
            }
            return out
        }
        // Bands of output rows whose im2col matrix (about 2 MB) stays in a core's cache; each
        // worker unfolds and multiplies its own bands.
        // Their count is rounded up to a multiple of the workers, so no core idles.
        let widest = max(1, min(ho, (1 << 19) / max(k * wo, 1)))
        let wanted = (ho + widest - 1) / widest
        let rounded = n * g % Parallel.threads == 0 ? wanted
            : (wanted + Parallel.threads - 1) / Parallel.threads * Parallel.threads
        let band = max(1, (ho + rounded - 1) / rounded)
        let bandsPerImage = (ho + band - 1) / band
        let tasks = n * g * bandsPerImage
        let workers = min(Parallel.threads, tasks)
        let col = scratch.buffer(k * band * wo * workers)
        Parallel.forEachWorker(tasks) { worker, range in
            let buffer = col + worker * k * band * wo
            for t in range {
                let img = t / (g * bandsPerImage), grp = (t / bandsPerImage) % g
                let y0 = (t % bandsPerImage) * band, rows = min(band, ho - y0)
                let dst = out.pointer + (img * o + grp * og) * p
                im2col(x.pointer + (img * c + grp * cg) * h * wd, channels: cg, height: h, width: wd, a,
                       outHeight: ho, outWidth: wo, rows: y0..<(y0 + rows), into: buffer, parallel: false)
                BLAS.sgemmSingle(m: og, n: rows * wo, k: k, a: w.pointer + grp * og * k, lda: k, b: buffer,
                                 ldb: rows * wo, c: dst + y0 * wo, ldc: p)
                epilogue(dst, channels: og, columns: (y0 * wo)..<((y0 + rows) * wo), stride: p,
                         bias: bias.map { $0.pointer + grp * og }, activation: activation, parallel: false)
            }
        }
        return out
    }

    /// Adds the bias (and the residual, laid out as `c`) and applies the fused activation to
    /// `columns` of each of `channels` rows.
    @inline(__always)
    static func epilogue(_ c: UnsafeMutablePointer<Float>, channels: Int, columns: Range<Int>, stride: Int,
                                 bias: UnsafeMutablePointer<Float>?, activation: FusedActivation?,
                                 residual: UnsafeMutablePointer<Float>? = nil, parallel: Bool = true) {
        if bias == nil && activation == nil && residual == nil { return }
        let body = { (range: Range<Int>) in
            for ch in range {
                let offset = ch * stride + columns.lowerBound
                finishRow(c + offset, count: columns.count, bias: bias?[ch] ?? 0, residual: residual.map { $0 + offset },
                          activation: activation)
            }
        }
        if parallel { Parallel.forEach(channels, minChunk: 4, body) } else { body(0..<channels) }
    }

    /// `row = activation((row + bias) + residual)` over `count` elements.
    @inline(__always)
    static func finishRow(_ row: UnsafeMutablePointer<Float>, count: Int, bias b: Float, residual: UnsafeMutablePointer<Float>?,
                          activation: FusedActivation?) {
        if let residual {
            for i in 0..<count { row[i] = (row[i] + b) + residual[i] }
            activation?.apply(row, row, count: count)
        } else if let activation {
            activation.apply(row, row, count: count, bias: b)
        } else if b != 0 {
            for i in 0..<count { row[i] += b }
        }
    }

    /// `y = activation(y + residual)` in place, one pass (a residual after a path that has no
    /// epilogue of its own).
    static func addResidual(_ y: Tensor, _ residual: Tensor, activation: FusedActivation?) {
        Parallel.forEach(y.count, minChunk: 1 << 14) { r in
            finishRow(y.pointer + r.lowerBound, count: r.count, bias: 0, residual: residual.pointer + r.lowerBound,
                      activation: activation)
        }
    }

    /// `activation` over a whole tensor, in place.
    static func unaryInPlace(_ t: Tensor, _ activation: FusedActivation) -> Tensor {
        Parallel.forEach(t.count, minChunk: 1 << 14) { r in
            activation.apply(t.pointer + r.lowerBound, t.pointer + r.lowerBound, count: r.count)
        }
        return t
    }

    /// Unfolds image patches: row `(c·kh + i)·kw + j` holds input pixel
    /// `(c, oy·sh − pt + i·dh, ox·sw − pl + j·dw)` for every output position `oy ∈ rows`
    /// (0 outside the image).
    static func im2col(_ src: UnsafeMutablePointer<Float>, channels: Int, height h: Int, width w: Int,
                       _ a: Conv2DAttributes, outHeight ho: Int, outWidth wo: Int, rows: Range<Int>,
                       into dst: UnsafeMutablePointer<Float>, parallel: Bool = true) {
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let (sh, sw, dh, dw, pt, pl) = (a.stride[0], a.stride[1], a.dilation[0], a.dilation[1], a.pads[0], a.pads[1])
        let body = { (range: Range<Int>) in
            for r in range {
                let ch = r / (kh * kw), i = (r / kw) % kh, j = r % kw
                let plane = src + ch * h * w
                var row = dst + r * rows.count * wo
                for oy in rows {
                    let iy = oy * sh - pt + i * dh
                    if iy < 0 || iy >= h {
                        row.update(repeating: 0, count: wo)
                    } else {
                        let line = plane + iy * w
                        let x0 = j * dw - pl
                        // valid ox: 0 ≤ ox·sw + x0 < w
                        let lo = min(x0 >= 0 ? 0 : (sw - 1 - x0) / sw, wo)
                        let hi = max(min(w - x0 > 0 ? (w - x0 + sw - 1) / sw : 0, wo), lo)
                        if lo > 0 { row.update(repeating: 0, count: lo) }
                        if sw == 1 {
                            if hi > lo { (row + lo).update(from: line + lo + x0, count: hi - lo) }
                        } else {
                            for ox in lo..<hi { row[ox] = line[ox * sw + x0] }
                        }
                        if hi < wo { (row + hi).update(repeating: 0, count: wo - hi) }
                    }
                    row += wo
                }
            }
        }
        if parallel { Parallel.forEach(channels * kh * kw, minChunk: 8, body) } else { body(0..<(channels * kh * kw)) }
    }

    /// Adds `bias[c]` to every element of channel c of an NCHW (or NC) tensor.
    static func addChannelBias(_ t: Tensor, _ bias: Tensor) {
        let n = t.shape[0], c = t.shape[1], plane = t.count / max(n * c, 1)
        Parallel.forEach(n * c, minChunk: 16) { range in
            for nc in range {
                let b = bias.pointer[nc % c]
                let p = t.pointer + nc * plane
                for i in 0..<plane { p[i] += b }
            }
        }
    }

    /// Direct convolution for few input channels per group — depthwise (one per group, `o/c`
    /// outputs each: MobileNet, EfficientNet, ConvNeXt) and an image's first layer (three):
    /// no im2col. The group's input channels are copied into zero-padded planes (at stride 2,
    /// split into their even and odd columns), so every kernel tap reads a contiguous run of
    /// one plane. A worker zeroes its planes once: each copy writes the same interior, so the
    /// padding stays zero. Four output rows of eight columns are summed over all channels and
    /// taps in registers (a multiply and an add each under an explanation: with fused
    /// multiply-adds an image's first layer moved a switch of VGG-16's gradient 3.5 % of its
    /// largest value away from float64's; with `fused`, in forward-only runs, fused
    /// multiply-adds, 14 % faster on MobileNetV2's 56×56 depthwise layers) and stored once,
    /// with the bias and the fused activation applied to the rows while they are in cache. Tasks are (image, group, block of output channels).
    static func directConv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ a: Conv2DAttributes, outShape: [Int],
                             activation: FusedActivation?, fused: Bool = false) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (outShape[1], outShape[2], outShape[3])
        let g = a.group, cg = c / g, og = o / g
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let (sh, sw, dh, dw, top, left) = (a.stride[0], a.stride[1], a.dilation[0], a.dilation[1], a.pads[0], a.pads[1])
        // The padded plane covers every row and column any tap reads.
        let ph = max(h + top, (ho - 1) * sh + (kh - 1) * dh + 1)
        let pw = max(wd + left, (wo - 1) * sw + (kw - 1) * dw + 1)
        let split = sw == 2
        let half = (pw + 1) / 2
        // 8 floats of slack: a run's last group of eight may read past the plane's end.
        let planeSize = (split ? 2 * ph * half : ph * pw) + 8
        let out = Tensor(uninitialized: outShape)
        let work = n * o * ho * wo * kh * kw * cg
        // Output channels of a group split into blocks when there are fewer groups than workers.
        let blocks = n * g >= Parallel.threads ? 1 : min(og, Parallel.threads)
        let perBlock = (og + blocks - 1) / blocks
        let tasks = n * g * blocks
        let workers = work < Parallel.directLoopWork ? 1 : min(Parallel.threads, tasks)
        let planes = UnsafeMutablePointer<Float>.allocate(capacity: planeSize * cg * workers)
        defer { planes.deallocate() }
        let taps = kh * kw
        Parallel.forEachWorker(tasks, workers: workers) { worker, range in
            let plane = planes + worker * planeSize * cg
            plane.update(repeating: 0, count: planeSize * cg)
            // Per input channel and tap: the offset of its run for output row 0, column 0;
            // rows add `rowStep`.
            let offsets = UnsafeMutablePointer<Int>.allocate(capacity: cg * taps)
            defer { offsets.deallocate() }
            for ch in 0..<cg {
                for i in 0..<kh {
                    for j in 0..<kw {
                        let q = j * dw
                        offsets[(ch * kh + i) * kw + j] = ch * planeSize
                            + (split ? (q & 1 == 0 ? 0 : ph * half) + i * dh * half + (q >> 1) : i * dh * pw + q)
                    }
                }
            }
            let rowStep = split ? sh * half : sh * pw
            // Stride 2: padded column q = xx + left goes to the even half at q/2 when q is
            // even, to the odd half otherwise. From the first input column whose q is even,
            // each pair of columns fills one place of each half, sixteen columns at a time.
            let firstEven = left & 1
            let count = cg * taps
            /// Stores eight sums at column `ox` of `row` (fewer at the row's end).
            @inline(__always) func store(_ acc: SIMD8<Float>, _ row: UnsafeMutablePointer<Float>, _ ox: Int) {
                if ox + 8 <= wo {
                    (row + ox).setLanes(acc)
                } else {
                    for l in 0..<(wo - ox) { row[ox + l] = acc[l] }
                }
            }
            for t in range {
                let img = t / (g * blocks), grp = (t / blocks) % g, block = t % blocks
                for ch in 0..<cg {
                    let src = x.pointer + ((img * c) + grp * cg + ch) * h * wd
                    let chPlane = plane + ch * planeSize
                    for y in 0..<h {
                        let line = src + y * wd
                        if split {
                            let even = chPlane + (y + top) * half, odd = chPlane + ph * half + (y + top) * half
                            if firstEven == 1 { odd[left >> 1] = line[0] }
                            var xx = firstEven
                            while xx + 16 <= wd {
                                let (a, b) = ((line + xx).lanes(), (line + xx + 8).lanes())
                                let k = (xx + left) >> 1
                                (even + k).setLanes(SIMD8(a[0], a[2], a[4], a[6], b[0], b[2], b[4], b[6]))
                                (odd + k).setLanes(SIMD8(a[1], a[3], a[5], a[7], b[1], b[3], b[5], b[7]))
                                xx += 16
                            }
                            while xx < wd {
                                even[(xx + left) >> 1] = line[xx]
                                if xx + 1 < wd { odd[(xx + left) >> 1] = line[xx + 1] }
                                xx += 2
                            }
                        } else {
                            (chPlane + (y + top) * pw + left).update(from: line, count: wd)
                        }
                    }
                }
                for m in (block * perBlock)..<min(og, (block + 1) * perBlock) {
                    let oc = grp * og + m
                    let dst = out.pointer + (img * o + oc) * ho * wo
                    let weights = w.pointer + oc * count
                    let b = bias?.pointer[oc] ?? 0
                    var oy = 0
                    while oy < ho {
                        // Four output rows at once where they exist: four independent sums
                        // per tap, so the adds do not wait on each other.
                        let rows = sw > 2 ? 1 : min(4, ho - oy)
                        let base = plane + oy * rowStep
                        let row = dst + oy * wo
                        if sw > 2 {
                            row.update(repeating: 0, count: wo)
                            for k in 0..<count {
                                let run = base + offsets[k], tap = weights[k]
                                for ox in 0..<wo { row[ox] += tap * run[ox * sw] }
                            }
                        } else if rows == 4 {
                            let (b1, b2, b3) = (base + rowStep, base + 2 * rowStep, base + 3 * rowStep)
                            var ox = 0
                            while ox < wo {
                                var (a0, a1, a2, a3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                                if fused {
                                    for k in 0..<count {
                                        let tap = SIMD8<Float>(repeating: weights[k]), at = offsets[k] + ox
                                        a0 = a0.addingProduct(tap, (base + at).lanes())
                                        a1 = a1.addingProduct(tap, (b1 + at).lanes())
                                        a2 = a2.addingProduct(tap, (b2 + at).lanes())
                                        a3 = a3.addingProduct(tap, (b3 + at).lanes())
                                    }
                                } else {
                                    for k in 0..<count {
                                        let tap = SIMD8<Float>(repeating: weights[k]), at = offsets[k] + ox
                                        a0 += tap * (base + at).lanes()
                                        a1 += tap * (b1 + at).lanes()
                                        a2 += tap * (b2 + at).lanes()
                                        a3 += tap * (b3 + at).lanes()
                                    }
                                }
                                store(a0, row, ox)
                                store(a1, row + wo, ox)
                                store(a2, row + 2 * wo, ox)
                                store(a3, row + 3 * wo, ox)
                                ox += 8
                            }
                        } else {
                            for r in 0..<rows {
                                let line = base + r * rowStep
                                var ox = 0
                                while ox < wo {
                                    var acc = SIMD8<Float>()
                                    if fused {
                                        for k in 0..<count {
                                            acc = acc.addingProduct(SIMD8(repeating: weights[k]), (line + offsets[k] + ox).lanes())
                                        }
                                    } else {
                                        for k in 0..<count { acc += weights[k] * (line + offsets[k] + ox).lanes() }
                                    }
                                    store(acc, row + r * wo, ox)
                                    ox += 8
                                }
                            }
                        }
                        if let activation { activation.apply(row, row, count: rows * wo, bias: b) } else if b != 0 {
                            for i in 0..<(rows * wo) { row[i] += b }
                        }
                        oy += rows
                    }
                }
            }
        }
        return out
    }

    /// `y = x·Wᵀ + b` on the last axis, x `[N, …, in]` as `rows × in`, W `[out, in]`:
    /// sgemv for one row (sgemm with one row is several times slower), sgemm otherwise.
    public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor?) -> Tensor {
        let fin = x.shape.last ?? 1, fout = w.shape[0], rows = x.count / max(fin, 1)
        let out = Tensor(uninitialized: x.shape.dropLast() + [fout])
        if rows == 1 {
            BLAS.sgemv(m: fout, n: fin, a: w.pointer, lda: fin, x: x.pointer, y: out.pointer)
        } else {
            BLAS.sgemm(transB: true, m: rows, n: fout, k: fin, a: x.pointer, lda: fin, b: w.pointer, ldb: fin,
                       c: out.pointer, ldc: fout)
        }
        if let bias { addRowBias(out, bias, features: fout) }
        return out
    }

    /// Adds `bias[j]` to column `j` of a `rows × features` matrix.
    static func addRowBias(_ t: Tensor, _ bias: Tensor, features: Int) {
        let rows = t.count / max(features, 1)
        Parallel.forEach(rows, minChunk: max(1, 8192 / max(features, 1))) { range in
            for r in range {
                let p = t.pointer + r * features
                for j in 0..<features { p[j] += bias.pointer[j] }
            }
        }
    }
}

/// A reusable work buffer (the im2col matrix), grown on demand and kept between calls so
/// large convolutions do not pay for fresh pages every time; and the weight tensors derived
/// once per weight (the transposed kernels of the input-gradient, Winograd's transformed
/// filters). Each entry keeps its source tensor alive, so its identity cannot be reused.
public final class Scratch: @unchecked Sendable {
    private var storage = TensorStorage(uninitializedCount: 0)
    private struct Key: Hashable { let kind: String, groups: Int, storage: ObjectIdentifier }
    private var derived: [Key: (source: Tensor, value: Tensor)] = [:]
    /// Floats the derived tensors hold (read it between calls: it is not locked).
    private(set) var derivedCount = 0
    private let lock = NSLock()
    public init() {}

    /// `make(w)`, computed once per weight tensor, kind and group count. Past 256 M cached
    /// elements (1 GB) the cache starts over, so a caller passing fresh weights each time
    /// cannot make it grow without bound.
    func derived(from w: Tensor, kind: String, groups: Int, _ make: (Tensor) -> Tensor) -> Tensor {
        let key = Key(kind: kind, groups: groups, storage: ObjectIdentifier(w.storage))
        lock.lock(); defer { lock.unlock() }
        if let hit = derived[key], hit.source.shape == w.shape { return hit.value }
        let value = make(w)
        if derivedCount + value.count > 1 << 28 { derived = [:]; derivedCount = 0 }
        derived[key] = (w, value)
        derivedCount += value.count
        return value
    }

    /// `W'[c, o, i, j] = W[o, c, kh−1−i, kw−1−j]` per group (OIHW → OIHW of the transposed
    /// convolution).
    func flipped(_ w: Tensor, groups g: Int) -> Tensor {
        derived(from: w, kind: "flipped", groups: g) { w in
            let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
            let og = o / g
            let t = Tensor(uninitialized: [cg * g, og, kh, kw])
            for grp in 0..<g { for oc in 0..<og { for c in 0..<cg { for i in 0..<kh { for j in 0..<kw {
                t.pointer[((((grp * cg + c) * og + oc) * kh + i) * kw) + j] =
                    w.pointer[((((grp * og + oc) * cg + c) * kh + (kh - 1 - i)) * kw) + (kw - 1 - j)]
            } } } } }
            return t
        }
    }

    func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        if storage.count < count { storage = TensorStorage(uninitializedCount: count) }
        return storage.base
    }
}

/// The CPU kernels: one static function per canonical op, each reading NCHW tensors and
/// returning a new one. `NaiveKernels` holds slow twins of the fast paths for tests.
public enum Kernels {}
