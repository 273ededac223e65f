import SRCore

extension Kernels {
    /// Max pooling over windows clipped to the input (padding never wins).
    public static func maxPool2d(_ x: Tensor, _ a: Pool2DAttributes, outShape: [Int]) -> Tensor {
        if a.kernel == [2, 2] && a.stride == [2, 2] && a.pads == [0, 0, 0, 0] && outShape[2] * 2 <= x.shape[2]
            && outShape[3] * 2 <= x.shape[3] {
            return pool2x2(x, outShape: outShape, average: false)
        }
        return maxPoolRows(x, a, outShape: outShape)
    }

    /// Max pooling in two passes per output row: the input rows of its windows (clipped to
    /// the input) reduced into one row, eight lanes at a time, then each window's columns of
    /// that row. The row has −∞ margins where windows overhang the input, so the second pass
    /// needs no clipping. A value is taken only when greater than the maximum so far, so NaN
    /// never wins and a window with no input is −∞, as in a direct loop over the window.
    private static func maxPoolRows(_ x: Tensor, _ a: Pool2DAttributes, outShape: [Int]) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let (kh, kw, sh, sw, pt, pl) = (a.kernel[0], a.kernel[1], a.stride[0], a.stride[1], a.pads[0], a.pads[1])
        // Window ox covers padded columns ox·sw ..< ox·sw + kw; input column x is pl + x.
        let width = max(pl + w, (wo - 1) * sw + kw)
        let out = Tensor(uninitialized: outShape)
        Parallel.forEach(n * c, minChunk: 4) { range in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: width)
            defer { padded.deallocate() }
            padded.initialize(repeating: -.infinity, count: width)
            let row = padded + pl
            for nc in range {
                let p = x.pointer + nc * h * w, q = out.pointer + nc * ho * wo
                for oy in 0..<ho {
                    let ys = oy * sh - pt
                    row.update(repeating: -.infinity, count: w)
                    for y in max(ys, 0)..<max(min(ys + kh, h), max(ys, 0)) {
                        let src = p + y * w
                        var i = 0
                        while i + 8 <= w {
                            let m = (row + i).lanes(), v = (src + i).lanes()
                            (row + i).setLanes(m.replacing(with: v, where: v .> m))
                            i += 8
                        }
                        while i < w {
                            if src[i] > row[i] { row[i] = src[i] }
                            i += 1
                        }
                    }
                    let dst = q + oy * wo
                    var ox = 0
                    // Eight windows at a time at stride 1 or 2 (the even lanes of sixteen
                    // columns), where their columns lie inside the row: ResNet's and
                    // DenseNet's 3×3 stride-2 pooling of 112×112 maps took 0.34 ms one window
                    // at a time, onnxruntime 0.09.
                    if sw <= 2 {
                        while ox + 8 <= wo && ox * sw + kw - 1 + 8 * sw <= width {
                            var m = SIMD8<Float>(repeating: -.infinity)
                            for j in 0..<kw {
                                let at = UnsafeRawPointer(padded + ox * sw + j)
                                let v = sw == 1 ? at.loadUnaligned(as: SIMD8<Float>.self)
                                    : at.loadUnaligned(as: SIMD16<Float>.self).evenHalf
                                m.replace(with: v, where: v .> m)
                            }
                            (dst + ox).setLanes(m)
                            ox += 8
                        }
                    }
                    while ox < wo {
                        let window = padded + ox * sw
                        var m = -Float.infinity
                        for j in 0..<kw where window[j] > m { m = window[j] }
                        dst[ox] = m
                        ox += 1
                    }
                }
            }
        }
        return out
    }

    /// The common 2×2, stride-2, unpadded window whose windows all lie inside the input: its
    /// maximum (VGG) or its mean (DenseNet's transitions), the mean summed in the window
    /// loop's order (from +0, row by row) for the same bits.
    private static func pool2x2(_ x: Tensor, outShape: [Int], average: Bool) -> Tensor {
        let (h, w, ho, wo) = (x.shape[2], x.shape[3], outShape[2], outShape[3])
        let out = Tensor(uninitialized: outShape)
        Parallel.forEach(x.shape[0] * x.shape[1], minChunk: 4) { range in
            for nc in range {
                let p = x.pointer + nc * h * w, q = out.pointer + nc * ho * wo
                for oy in 0..<ho {
                    let r0 = p + 2 * oy * w, r1 = r0 + w, dst = q + oy * wo
                    if average {
                        for ox in 0..<wo {
                            dst[ox] = ((((0 + r0[2 * ox]) + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) / 4
                        }
                    } else {
                        for ox in 0..<wo {
                            dst[ox] = max(max(r0[2 * ox], r0[2 * ox + 1]), max(r1[2 * ox], r1[2 * ox + 1]))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Average pooling. The divisor is the number of valid elements, or with
    /// `countIncludePad` the window clipped to the padded input `[−pad_begin, H + pad_end)`
    /// (padding counted, a ceil-mode overhang beyond it not), as Caffe and onnxruntime do.
    public static func avgPool2d(_ x: Tensor, _ a: Pool2DAttributes, outShape: [Int]) -> Tensor {
        if a.kernel == [2, 2] && a.stride == [2, 2] && a.pads == [0, 0, 0, 0] && outShape[2] * 2 <= x.shape[2]
            && outShape[3] * 2 <= x.shape[3] {
            return pool2x2(x, outShape: outShape, average: true)
        }
        return pool(x, a, outShape: outShape) { p, w, y0, y1, x0, x1, padded in
            var s: Float = 0
            for y in y0..<y1 { for xx in x0..<x1 { s += p[y * w + xx] } }
            let count = a.countIncludePad ? padded : (y1 - y0) * (x1 - x0)
            return count > 0 ? s / Float(count) : 0
        }
    }

    /// Walks every output window; `reduce` gets the plane, its width, the window clipped to
    /// the input and the size of the window clipped to the padded input.
    private static func pool(_ x: Tensor, _ a: Pool2DAttributes, outShape: [Int],
                             reduce: (UnsafeMutablePointer<Float>, Int, Int, Int, Int, Int, Int) -> Float) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let (kh, kw, sh, sw) = (a.kernel[0], a.kernel[1], a.stride[0], a.stride[1])
        let (pt, pl, pb, pr) = (a.pads[0], a.pads[1], a.pads[2], a.pads[3])
        let out = Tensor(uninitialized: outShape)
        Parallel.forEach(n * c, minChunk: 4) { range in
            for nc in range {
                let p = x.pointer + nc * h * w
                let q = out.pointer + nc * ho * wo
                for oy in 0..<ho {
                    let ys = oy * sh - pt, ye = min(ys + kh, h + pb)
                    let y0 = max(ys, 0), y1 = min(ye, h)
                    for ox in 0..<wo {
                        let xs = ox * sw - pl, xe = min(xs + kw, w + pr)
                        let x0 = max(xs, 0), x1 = min(xe, w)
                        q[oy * wo + ox] = reduce(p, w, y0, y1, x0, x1, (ye - ys) * (xe - xs))
                    }
                }
            }
        }
        return out
    }

    /// Each plane's mean: four sums of eight lanes side by side (one chain of vector adds had
    /// held EfficientNet-B0's squeeze-and-excitation pools to about 32 GB/s), then the
    /// last eights and the last values.
    public static func globalAvgPool(_ x: Tensor) -> Tensor {
        globalPool(x) { p, n in
            var (a, b, c, d) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            var i = 0
            while i + 32 <= n {
                a += (p + i).lanes(); b += (p + i + 8).lanes()
                c += (p + i + 16).lanes(); d += (p + i + 24).lanes()
                i += 32
            }
            while i + 8 <= n {
                a += (p + i).lanes()
                i += 8
            }
            var s = ((a + b) + (c + d)).sum()
            while i < n { s += p[i]; i += 1 }
            return s / Float(n)
        }
    }

    public static func globalMaxPool(_ x: Tensor) -> Tensor {
        globalPool(x) { p, n in
            var m = -Float.infinity
            for i in 0..<n { m = max(m, p[i]) }
            return m
        }
    }

    private static func globalPool(_ x: Tensor, _ reduce: (UnsafeMutablePointer<Float>, Int) -> Float) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3]
        let out = Tensor(uninitialized: [n, c, 1, 1])
        Parallel.forEach(n * c, minChunk: max(1, (1 << 16) / max(plane, 1))) { r in
            for i in r { out.pointer[i] = reduce(x.pointer + i * plane, plane) }
        }
        return out
    }
}
