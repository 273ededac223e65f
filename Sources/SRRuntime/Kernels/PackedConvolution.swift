import SRCore

extension Kernels {
    /// A convolution as one packed-weight product per image and group (`PackedGEMM`), its
    /// input unfolded on the fly: X[(c·kh + i)·kw + j][oy·wo + ox] is the input at
    /// `(c, oy·sh + i·dh, ox·sw + j·dw)` of a copy padded by the convolution's pads (the input
    /// itself when they are 0), read at `rows[tap] + columns[pixel]`. No im2col matrix is
    /// written; the bias, `residual` and `activation` are applied to each worker's block while
    /// it is in cache, `activation((conv + bias) + residual)` in that order. For forward-only
    /// runs (`WinogradTile.f4x4`; see `conv2d`).
    static func packedConv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ a: Conv2DAttributes, outShape: [Int],
                             scratch: Scratch, activation: FusedActivation?, residual: Tensor?) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (outShape[1], outShape[2], outShape[3])
        let g = a.group, cg = c / g, og = o / g
        let (kh, kw) = (a.kernel[0], a.kernel[1])
        let (pt, pl, pb, pr) = (a.pads[0], a.pads[1], a.pads[2], a.pads[3])
        let k = cg * kh * kw, p = ho * wo
        let (hp, wp) = (h + pt + pb, wd + pl + pr)
        let unpadded = pt == 0 && pl == 0 && pb == 0 && pr == 0
        let input = unpadded ? x.pointer : padded(x, top: pt, left: pl, height: hp, width: wp, into: scratch.buffer(n * c * hp * wp))
        // Filled in place: appending, the arrays' bookkeeping cost a layer of 64 channels on a
        // 7×7 map about a microsecond.
        let (dh, dw, sh, sw) = (a.dilation[0], a.dilation[1], a.stride[0], a.stride[1])
        let rows = [Int](unsafeUninitializedCapacity: k) { buffer, count in
            for ch in 0..<cg { for i in 0..<kh { for j in 0..<kw { buffer[(ch * kh + i) * kw + j] = ch * hp * wp + i * dh * wp + j * dw } } }
            count = k
        }
        let columns = [Int](unsafeUninitializedCapacity: p) { buffer, count in
            for oy in 0..<ho { for ox in 0..<wo { buffer[oy * wo + ox] = oy * sh * wp + ox * sw } }
            count = p
        }
        let packed = scratch.packed(w, groups: g)
        let each = PackedGEMM.packedCount(rows: og, depth: k)
        let out = Tensor(uninitialized: outShape)
        for img in 0..<n {
            for grp in 0..<g {
                let offset = (img * o + grp * og) * p
                let operand = PackedGEMM.Operand(base: input + (img * c + grp * cg) * hp * wp, rows: rows, columns: columns)
                PackedGEMM.multiply(packed.pointer + grp * each, rows: og, depth: k, x: operand, out: out.pointer + offset,
                                    ldo: p) { rows, columns in
                    let start = offset + rows.lowerBound * p
                    epilogue(out.pointer + start, channels: rows.count, columns: columns, stride: p,
                             bias: bias.map { $0.pointer + grp * og + rows.lowerBound }, activation: activation,
                             residual: residual.map { $0.pointer + start }, parallel: false)
                }
            }
        }
        return out
    }

    /// `x` in a zero frame, written to `t`: planes of `height` × `width`, the input at (`top`, `left`).
    private static func padded(_ x: Tensor, top: Int, left: Int, height hp: Int, width wp: Int,
                               into t: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let (planes, h, wd) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        Parallel.forEach(planes, minChunk: max(1, (1 << 14) / max(hp * wp, 1))) { range in
            for plane in range {
                let dst = t + plane * hp * wp, src = x.pointer + plane * h * wd
                dst.update(repeating: 0, count: top * wp)
                for y in 0..<h {
                    let row = dst + (top + y) * wp
                    row.update(repeating: 0, count: left)
                    (row + left).update(from: src + y * wd, count: wd)
                    (row + left + wd).update(repeating: 0, count: wp - left - wd)
                }
                (dst + (top + h) * wp).update(repeating: 0, count: (hp - top - h) * wp)
            }
        }
        return t
    }
}
