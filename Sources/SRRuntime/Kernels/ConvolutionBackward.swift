import SRCore

extension Kernels {
    /// The input-gradient of a convolution: `dX = col2im(Wᵀ · dY)` per image and group,
    /// dY `[N, O, Ho, Wo]`, W `OIHW`, dX shaped like the input `inShape`.
    public static func conv2dBackwardData(_ dy: Tensor, weight w: Tensor, _ a: Conv2DAttributes, inShape: [Int],
                                          scratch: Scratch = Scratch(), winograd: WinogradTile = .f2x2) -> Tensor {
        let (n, c, h, wd) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (o, ho, wo) = (dy.shape[1], dy.shape[2], dy.shape[3])
        let g = a.group, cg = c / g, og = o / g
        let k = cg * a.kernel[0] * a.kernel[1], p = ho * wo
        // Stride 1, no dilation: the input-gradient is itself a convolution of dY with the
        // flipped, transposed kernel (padding (k − 1)·d − p), which runs as fast as the
        // forward pass — unless the input has few channels (an image), where that product is
        // too thin.
        let (kh, kw, dh, dw) = (a.kernel[0], a.kernel[1], a.dilation[0], a.dilation[1])
        let flipPads = [(kh - 1) * dh - a.pads[0], (kw - 1) * dw - a.pads[1], (kh - 1) * dh - a.pads[2], (kw - 1) * dw - a.pads[3]]
        if cg >= 16, a.stride == [1, 1], a.dilation == [1, 1], a.kernel != [1, 1], flipPads.allSatisfy({ $0 >= 0 }),
           ho + kh - 1 - a.pads[0] - a.pads[2] == h, wo + kw - 1 - a.pads[1] - a.pads[3] == wd {
            let b = Conv2DAttributes(kernel: a.kernel, pads: flipPads, group: g)
            if winogradApplies(b, inChannels: og, outChannels: cg, outShape: inShape, tile: winograd) {
                return conv2dWinograd(dy, weight: w, transposed: true, bias: nil, b, outShape: inShape, scratch: scratch,
                                      reluSlope: nil, tile: winograd)
            }
            return conv2d(dy, weight: scratch.flipped(w, groups: g), bias: nil, b, outShape: inShape, scratch: scratch,
                          winograd: winograd)
        }
        if cg == 1 && g > 1 {
            // Stride 1, one output per channel: the flipped-kernel convolution above, depthwise.
            if og == 1, a.stride == [1, 1], flipPads.allSatisfy({ $0 >= 0 }) {
                let b = Conv2DAttributes(kernel: a.kernel, pads: flipPads, dilation: a.dilation, group: g)
                return directConv2d(dy, weight: scratch.flipped(w, groups: g), bias: nil, b, outShape: inShape, activation: nil)
            }
            return depthwiseBackwardData(dy, weight: w, a, inShape: inShape)
        }
        let direct = a.kernel == [1, 1] && a.stride == [1, 1] && a.pads == [0, 0, 0, 0]
        // Where F(4×4) is allowed, a 1×1 on a map of 28×28 or more on AVX-512: the forward 1×1
        // kernel over Wᵀ (`flipped`, a 1×1's transpose per group), the packed product's sums
        // in the same order — and its bits.
        if direct && winograd == .f4x4 && p >= 784 && InstructionSet.inUse == .avx512 {
            return pointwiseConv2d(dy, weight: scratch.flipped(w, groups: g), bias: nil, groups: g, outShape: inShape,
                                   activation: nil)
        }
        // A 1×1 product writes every element; col2im adds into zeros.
        let dx = direct ? Tensor(uninitialized: inShape) : Tensor(zeros: inShape)
        // Bands of output rows (about 8 MB of column matrix), so the matrix stays in cache
        // between the multiply and its scatter back (col2im).
        let band = direct ? ho : max(1, min(ho, (1 << 21) / max(k * wo, 1)))
        let col = scratch.buffer(direct ? 0 : k * band * wo)
        // Where F(4×4) is allowed (a gradient's backward convolutions), the products Wᵀ·dY are
        // PackedGEMM's over the transposed weights packed once; else OpenBLAS's.
        let packed = winograd == .f4x4 ? scratch.packed(w, groups: g, transposed: true) : nil
        let each = PackedGEMM.packedCount(rows: k, depth: og)
        /// dst[k × columns] (rows `ldo` apart) = Wᵀ_grp · dY[:, columns], dY's rows `p` apart.
        func multiply(_ grp: Int, _ dyg: UnsafePointer<Float>, columns: Int, into dst: UnsafeMutablePointer<Float>, ldo: Int) {
            if let packed {
                PackedGEMM.multiply(packed.pointer + grp * each, rows: k, depth: og,
                                    x: .matrix(dyg, depth: og, columns: columns, ldx: p), out: dst, ldo: ldo) { _, _ in }
            } else {
                BLAS.sgemm(transA: true, m: k, n: columns, k: og, a: w.pointer + grp * og * k, lda: k, b: dyg, ldb: p,
                           c: dst, ldc: ldo)
            }
        }
        for img in 0..<n {
            for grp in 0..<g {
                let dst = dx.pointer + (img * c + grp * cg) * h * wd
                let dyg = dy.pointer + (img * o + grp * og) * p
                if direct {
                    multiply(grp, dyg, columns: p, into: dst, ldo: p)
                    continue
                }
                var y0 = 0
                while y0 < ho {
                    let rows = min(band, ho - y0)
                    multiply(grp, dyg + y0 * wo, columns: rows * wo, into: col, ldo: rows * wo)
                    col2im(col, channels: cg, height: h, width: wd, a, outHeight: ho, outWidth: wo,
                           rows: y0..<(y0 + rows), into: dst)
                    y0 += rows
                }
            }
        }
        return dx
    }

    /// The input-gradient of a depthwise convolution, one input channel per worker task: each
    /// kernel tap adds `w[oc, i, j] · dY[oc]` to the input pixels that tap read, over the
    /// columns where they lie inside the image. At stride s > 1 a tap reaches every s-th
    /// column, all of one phase (column mod s), so the sums go to a plane split by phase,
    /// where each tap's run is contiguous, and are interleaved back at the end.
    static func depthwiseBackwardData(_ dy: Tensor, weight w: Tensor, _ a: Conv2DAttributes, inShape: [Int]) -> Tensor {
        let (n, c, h, wd) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (o, ho, wo) = (dy.shape[1], dy.shape[2], dy.shape[3])
        let mult = o / c
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let (sh, sw, dh, dw, pt, pl) = (a.stride[0], a.stride[1], a.dilation[0], a.dilation[1], a.pads[0], a.pads[1])
        let cols = (wd + sw - 1) / sw
        let dx = Tensor(zeros: inShape)
        let work = n * o * ho * wo * kh * kw
        let workers = work < Parallel.directLoopWork ? 1 : min(Parallel.threads, max(1, n * c))
        let phases = sw > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: sw * h * cols * workers) : nil
        defer { phases?.deallocate() }
        /// `dst[i] += tap · src[i]` for i in 0..<count.
        @inline(__always) func axpy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeMutablePointer<Float>, _ count: Int, _ tap: Float) {
            var i = 0
            while i + 8 <= count {
                (dst + i).setLanes((dst + i).lanes().addingProduct(SIMD8(repeating: tap), (src + i).lanes()))
                i += 8
            }
            while i < count { dst[i] += tap * src[i]; i += 1 }
        }
        Parallel.forEachWorker(n * c, workers: workers) { worker, range in
            let split = phases.map { $0 + worker * sw * h * cols }
            for t in range {
                let img = t / c, ic = t % c
                let plane = dx.pointer + t * h * wd
                split?.update(repeating: 0, count: sw * h * cols)
                for m in 0..<mult {
                    let oc = ic * mult + m
                    let grad = dy.pointer + (img * o + oc) * ho * wo
                    for i in 0..<kh {
                        for j in 0..<kw {
                            let tap = w.pointer[(oc * kh + i) * kw + j]
                            // Input column ox·sw + shift must lie in [0, wd).
                            let shift = j * dw - pl
                            let lo = shift >= 0 ? 0 : (-shift + sw - 1) / sw
                            let hi = min(wo, wd - shift <= 0 ? 0 : (wd - shift + sw - 1) / sw)
                            guard lo < hi else { continue }
                            // Column ox·sw + shift is column ox + q of phase r.
                            let r = (shift % sw + sw) % sw, q = (shift - r) / sw
                            for oy in 0..<ho {
                                let iy = oy * sh - pt + i * dh
                                guard iy >= 0 && iy < h else { continue }
                                let line = split.map { $0 + (r * h + iy) * cols + q } ?? plane + iy * wd + shift
                                axpy(line + lo, grad + oy * wo + lo, hi - lo, tap)
                            }
                        }
                    }
                }
                if let split {
                    for iy in 0..<h {
                        let dst = plane + iy * wd
                        for r in 0..<sw {
                            let src = split + (r * h + iy) * cols
                            var k = 0
                            while k * sw + r < wd { dst[k * sw + r] = src[k]; k += 1 }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Adds every column entry back to the input pixel it was taken from (the adjoint of
    /// `im2col`); parallel over channels, so no two threads write the same pixel.
    static func col2im(_ col: UnsafeMutablePointer<Float>, channels: Int, height h: Int, width w: Int,
                       _ a: Conv2DAttributes, outHeight ho: Int, outWidth wo: Int, rows: Range<Int>,
                       into dst: UnsafeMutablePointer<Float>) {
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let (sh, sw, dh, dw, pt, pl) = (a.stride[0], a.stride[1], a.dilation[0], a.dilation[1], a.pads[0], a.pads[1])
        Parallel.forEach(channels) { range in
            for ch in range {
                let plane = dst + ch * h * w
                for i in 0..<kh {
                    for j in 0..<kw {
                        var row = col + ((ch * kh + i) * kw + j) * rows.count * wo
                        for oy in rows {
                            let iy = oy * sh - pt + i * dh
                            if iy >= 0 && iy < h {
                                let line = plane + iy * w
                                for ox in 0..<wo {
                                    let ix = ox * sw - pl + j * dw
                                    if ix >= 0 && ix < w { line[ix] += row[ox] }
                                }
                            }
                            row += wo
                        }
                    }
                }
            }
        }
    }

    /// The input-gradient of a linear layer: `dX = dY · W`, dY `[N, …, out]`, W `[out, in]`.
    public static func linearBackwardData(_ dy: Tensor, weight w: Tensor) -> Tensor {
        let fout = w.shape[0], fin = w.shape[1], n = dy.count / max(fout, 1)
        let dx = Tensor(uninitialized: dy.shape.dropLast() + [fin])
        if n == 1 {
            BLAS.sgemv(trans: true, m: fout, n: fin, a: w.pointer, lda: fin, x: dy.pointer, y: dx.pointer)
        } else {
            BLAS.sgemm(m: n, n: fin, k: fout, a: dy.pointer, lda: fout, b: w.pointer, ldb: fin, c: dx.pointer, ldc: fin)
        }
        return dx
    }
}

extension NaiveKernels {
    /// Direct-loop twin of `Kernels.conv2dBackwardData`.
    public static func conv2dBackwardData(_ dy: Tensor, weight w: Tensor, _ a: Conv2DAttributes, inShape: [Int]) -> Tensor {
        let (n, c, h, wd) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (o, ho, wo) = (dy.shape[1], dy.shape[2], dy.shape[3])
        let cg = c / a.group, og = o / a.group
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        var acc = [Double](repeating: 0, count: inShape.reduce(1, *))
        for img in 0..<n { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
            let gy = Double(dy.pointer[((img * o + oc) * ho + oy) * wo + ox])
            let g = oc / og
            for ic in 0..<cg { for i in 0..<kh { for j in 0..<kw {
                let iy = oy * a.stride[0] - a.pads[0] + i * a.dilation[0]
                let ix = ox * a.stride[1] - a.pads[1] + j * a.dilation[1]
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                acc[((img * c + g * cg + ic) * h + iy) * wd + ix] += gy * Double(w.pointer[((oc * cg + ic) * kh + i) * kw + j])
            } } }
        } } } }
        let dx = Tensor(zeros: inShape)
        for i in 0..<acc.count { dx.pointer[i] = Float(acc[i]) }
        return dx
    }
}

extension Kernels {
    /// Transposed convolution: the input-gradient of `conv2d` with the same attributes,
    /// applied to `x` (ONNX ConvTranspose's weight `[C_in, C_out/g, kh, kw]` is that conv's
    /// OIHW weight), plus the bias. `outShape` carries the output padding.
    public static func convTranspose2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ t: ConvTranspose2DAttributes,
                                       outShape: [Int], scratch: Scratch = Scratch(), winograd: WinogradTile = .f2x2) -> Tensor {
        let y = conv2dBackwardData(x, weight: w, t.conv, inShape: outShape, scratch: scratch, winograd: winograd)
        if let bias { addChannelBias(y, bias) }
        return y
    }
}
