import SRCore

/// Slow, obviously-correct twins of the fast kernels, for tests: direct loops with no
/// BLAS, no im2col and no threads.
public enum NaiveKernels {
    public static func conv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ a: Conv2DAttributes, outShape: [Int]) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (outShape[1], outShape[2], outShape[3])
        let cg = c / a.group, og = o / a.group
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let out = Tensor(zeros: outShape)
        for img in 0..<n { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
            var s = Double(bias?.pointer[oc] ?? 0)
            let g = oc / og
            for ic in 0..<cg { for i in 0..<kh { for j in 0..<kw {
                let iy = oy * a.stride[0] - a.pads[0] + i * a.dilation[0]
                let ix = ox * a.stride[1] - a.pads[1] + j * a.dilation[1]
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let xv = x.pointer[((img * c + g * cg + ic) * h + iy) * wd + ix]
                let wv = w.pointer[((oc * cg + ic) * kh + i) * kw + j]
                s += Double(xv) * Double(wv)
            } } }
            out.pointer[((img * o + oc) * ho + oy) * wo + ox] = Float(s)
        } } } }
        return out
    }

    public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor?) -> Tensor {
        let fin = x.shape.last ?? 1, fout = w.shape[0], n = x.count / max(fin, 1)
        let out = Tensor(zeros: x.shape.dropLast() + [fout])
        for i in 0..<n { for j in 0..<fout {
            var s = Double(bias?.pointer[j] ?? 0)
            for k in 0..<fin { s += Double(x.pointer[i * fin + k]) * Double(w.pointer[j * fin + k]) }
            out.pointer[i * fout + j] = Float(s)
        } }
        return out
    }

    /// Max pooling, every window by a direct loop (windows clipped to the input, padding
    /// never wins, NaN never wins).
    public static func maxPool2d(_ x: Tensor, _ a: Pool2DAttributes, outShape: [Int]) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let out = Tensor(zeros: outShape)
        for nc in 0..<(n * c) { for oy in 0..<ho { for ox in 0..<wo {
            var m = -Float.infinity
            for i in 0..<a.kernel[0] { for j in 0..<a.kernel[1] {
                let iy = oy * a.stride[0] - a.pads[0] + i, ix = ox * a.stride[1] - a.pads[1] + j
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let v = x.pointer[(nc * h + iy) * w + ix]
                if v > m { m = v }
            } }
            out.pointer[(nc * ho + oy) * wo + ox] = m
        } } }
        return out
    }
}
