import CKernels
import SRCore

extension Kernels {
    /// `linear` with its weight [out, in] packed for `PackedGEMM` (`packedLinearWeight`):
    /// out[t][f] = Σ_kk W[f][kk]·x[t][kk] + bias[f], each sum one chain of fused multiply-adds
    /// from 0 with the bias added after, the same bits at every instruction set. The product's
    /// tiles are stored straight into the token rows (`srk_sgemm_packed_rows`), and x is read
    /// in place: OpenBLAS packs the token matrix on every call and the weights too. Each
    /// worker adds the bias and applies `activation` to its block of the output while it is
    /// in cache.
    public static func packedLinear(_ x: Tensor, packedWeight w: Tensor, bias: Tensor?,
                                    activation: FusedActivation? = nil) -> Tensor {
        let fin = x.shape.last ?? 1, fout = w.shape[0], tokens = x.count / max(fin, 1)
        precondition(w.shape == [fout, fin] && fout % PackedGEMM.panelRows == 0, "packed linear: weight \(w.shape)")
        let out = Tensor(uninitialized: x.shape.dropLast() + [fout])
        // X[kk][t], the product's columns being the tokens, at x[kk + t·fin].
        let operand = PackedGEMM.Operand(base: x.pointer, rows: Array(0..<fin), columns: (0..<tokens).map { $0 * fin })
        let o = out.pointer
        PackedGEMM.multiply(w.pointer, rows: fout, depth: fin, x: operand, out: o, ldo: fout, transposedOut: true) {
            features, tokens in
            for t in tokens {
                let row = o + t * fout
                if let b = bias?.pointer { for f in features { row[f] += b[f] } }
                activation?.apply(row + features.lowerBound, row + features.lowerBound, count: features.count)
            }
        }
        return out
    }

    /// `packedLinear` of x [N, H, W, in] stored as [N, out, H, W]: the linear layer and the
    /// transpose after it (a ConvNeXt block's way back to channels first) in one pass, the
    /// product's panels stored as it stores a convolution's (`srk_sgemm_packed`). The same
    /// sums, so the same bits as the two ops.
    public static func packedLinearToChannelsFirst(_ x: Tensor, packedWeight w: Tensor, bias: Tensor?) -> Tensor {
        let (n, h, wd, fin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), fout = w.shape[0], hw = h * wd
        precondition(x.rank == 4 && w.shape == [fout, fin] && fout % PackedGEMM.panelRows == 0,
                     "packed linear to channels: \(x.shape), \(w.shape)")
        let out = Tensor(uninitialized: [n, fout, h, wd])
        for img in 0..<n {
            // X[kk][p], pixel p's input kk, at x[(img·hw + p)·fin + kk]; out[f][p] at o[f·hw + p].
            let operand = PackedGEMM.Operand(base: x.pointer + img * hw * fin, rows: Array(0..<fin),
                                             columns: (0..<hw).map { $0 * fin })
            let o = out.pointer + img * fout * hw
            PackedGEMM.multiply(w.pointer, rows: fout, depth: fin, x: operand, out: o, ldo: hw) { features, pixels in
                guard let b = bias?.pointer else { return }
                for f in features {
                    let row = o + f * hw
                    for p in pixels { row[p] += b[f] }
                }
            }
        }
        return out
    }

    /// The weight [out, in] of a linear layer in `PackedGEMM`'s layout, in a tensor of the
    /// same shape and count (out a multiple of its 32-row panels, so no padding): the only
    /// form `packedLinear` reads, and no other kernel can. `packed(range)` is told the floats
    /// of `w` each panel came from once it is copied (a mapped weight's pages are released
    /// as it goes, so the copy and the original are never both resident).
    public static func packedLinearWeight(_ w: Tensor, packed: (Range<Int>) -> Void = { _ in }) -> Tensor {
        let (fout, fin) = (w.shape[0], w.shape[1]), rows = PackedGEMM.panelRows
        precondition(w.rank == 2 && fout % rows == 0, "packed linear: weight \(w.shape)")
        let t = Tensor(uninitialized: w.shape)
        for panel in 0..<(fout / rows) {
            let at = panel * rows * fin
            srk_pack(w.pointer + at, Int32(rows), Int32(fin), fin, 1, t.pointer + at)
            packed(at..<(at + rows * fin))
        }
        return t
    }

    /// `packedLinearWeight` in `w`'s own memory, for a caller that owns it: packed panel p
    /// takes exactly the 32 rows it is made of, so each panel goes through one panel's worth
    /// of scratch and back. With a packed copy the freed original would stay in `BufferPool`
    /// (VGG-16's 411 MB fc6, copied so by an early build: peak 976 → 1364 MB).
    public static func packLinearWeightInPlace(_ w: Tensor) {
        let (fout, fin) = (w.shape[0], w.shape[1]), rows = PackedGEMM.panelRows
        precondition(w.rank == 2 && fout % rows == 0, "packed linear: weight \(w.shape)")
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows * fin)
        defer { scratch.deallocate() }
        for panel in 0..<(fout / rows) {
            let at = w.pointer + panel * rows * fin
            srk_pack(at, Int32(rows), Int32(fin), fin, 1, scratch)
            at.update(from: scratch, count: rows * fin)
        }
    }
}
