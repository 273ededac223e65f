import CKernels
import SRCore

extension Kernels {
    /// Whether `conv2d` gives a 1×1, stride-1, unpadded convolution over `k` input channels
    /// per group and `p` pixels to `pointwiseConv2d`: at most 64 channels on maps over 32×32
    /// (rows that fill its vectors) or under 7×7 (a gate's one pixel); on AVX-512 any on a
    /// map of 28×28 or more, where its C kernel beat the packed product (which stays ahead
    /// on smaller maps).
    static func pointwiseApplies(inChannels k: Int, pixels p: Int) -> Bool {
        if k <= 64 && (p > 1024 || p < 49) { return true }
        return p >= 784 && InstructionSet.inUse == .avx512
    }

    /// A 1×1, stride-1, unpadded convolution by its input planes directly, without a matrix
    /// library: over few input channels per group (at most 64: MobileNet's and EfficientNet's
    /// expansions; EfficientNet-B0's forward pass went from 14–15 to 13–14 ms against banded
    /// sgemm calls), and on AVX-512 in forward-only runs any 1×1 on a map of 28×28 or more
    /// (`pointwiseApplies`). On AVX-512 CKernels' `srk_pointwise` sums tiles of 8 output
    /// channels × 32 pixels (57 G multiply-adds a second on one core, against the packed
    /// product's 41 on MobileNetV2's 24-channel projections, whose 32-channel panels are a
    /// quarter empty, and 25–38 on its 16- and 32-channel layers at 112×112). Otherwise tiles
    /// of four output channels × sixteen columns are summed over the input channels in eight
    /// registers by fused multiply-adds (each input value loaded once per four outputs). The
    /// bias, the residual when given and the fused activation run over a band's rows while
    /// they are in cache. Tasks are (image, group, band of columns), and blocks of output
    /// channels when there are fewer bands than workers. x `[N, C, H, W]`, w `[O, C/g, 1, 1]`.
    ///
    /// With `gate` `[N, C, 1, 1]` it convolves x ⊙ gate (a squeeze-and-excitation block's
    /// scaled signal) without that product being written: each image's weights are scaled
    /// per input channel instead, `(w[o, k]·gate[k])·x[k]` (not the bits of `w·(gate·x)`).
    static func pointwiseConv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, groups g: Int, outShape: [Int],
                                activation: FusedActivation?, residual: Tensor? = nil, gate: Tensor? = nil) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        let o = outShape[1], p = outShape[2] * outShape[3]
        let cg = c / g, og = o / g
        let out = Tensor(uninitialized: outShape)
        // Each image's weights, O × C/g floats: w itself, or scaled by that image's gate.
        let scaled = gate.map { gate in
            let t = Tensor(uninitialized: [n, o, cg])
            for img in 0..<n {
                for oc in 0..<o {
                    let grp = oc / og, row = t.pointer + (img * o + oc) * cg
                    let s = gate.pointer + img * c + grp * cg, wr = w.pointer + oc * cg
                    for k in 0..<cg { row[k] = wr[k] * s[k] }
                }
            }
            return t
        }
        func imageWeights(_ img: Int) -> UnsafeMutablePointer<Float> { scaled.map { $0.pointer + img * o * cg } ?? w.pointer }
        // Bands of about 512 columns, as many as a multiple of the workers (MobileNetV2's
        // 784-pixel maps in two equal halves, not 512 and 272), a multiple of 16 columns wide.
        let threads = Parallel.threads
        let wanted = (p + 511) / 512, even = (wanted + threads - 1) / threads * threads
        let band = min(p, ((p + even - 1) / even + 15) / 16 * 16)
        let bands = (p + band - 1) / band
        let blocks = n * g * bands
        let split = blocks >= threads ? 1 : min(threads, max(1, og / 16))
        let rowsPerSplit = (og + split - 1) / split
        let work = n * o * p * cg
        let avx512 = InstructionSet.inUse == .avx512
        // The bias, the residual and a ReLU or Clip (ReLU6) applied by the C kernel to each sum
        // before it is stored, with `finishRow`'s bits: MobileNetV2's 1×1 layers had spent a
        // tenth of their time reading their outputs back for it. Other activations still run
        // over each band's rows afterwards.
        let finishedInRegisters: (Int32, Float, Float)? = {
            switch activation {
            case nil: return (Int32(SRK_FINISH_NONE), 0, 0)
            case .relu(let slope) where slope == 0: return (Int32(SRK_FINISH_RELU), 0, 0)
            case .clip(let lo, let hi): return (Int32(SRK_FINISH_CLIP), lo, hi)
            default: return nil
            }
        }()
        Parallel.forEach(blocks * split, minChunk: work < 1 << 18 ? blocks * split : 1) { tasks in
            for t in tasks {
                let block = t / split, part = t % split
                let img = block / (g * bands), grp = (block / bands) % g
                let c0 = (block % bands) * band, cols = min(band, p - c0)
                let first = part * rowsPerSplit, last = min(og, first + rowsPerSplit)
                guard first < last else { continue }
                let src = x.pointer + (img * c + grp * cg) * p + c0
                if avx512 {
                    let weights = imageWeights(img) + grp * og * cg
                    let dst = out.pointer + (img * o + grp * og) * p + c0
                    if let (act, lo, hi) = finishedInRegisters {
                        srk_pointwise_finished(src, p, Int32(cg), weights, dst, p, Int32(first), Int32(last), 0, Int32(cols),
                                               bias.map { UnsafePointer($0.pointer + grp * og) },
                                               residual.map { UnsafePointer($0.pointer + (img * o + grp * og) * p + c0) },
                                               act, lo, hi)
                        continue
                    }
                    srk_pointwise(src, p, Int32(cg), weights, dst, p, Int32(first), Int32(last), 0, Int32(cols))
                    for r in first..<last {
                        let offset = (img * o + grp * og + r) * p + c0
                        finishRow(dst + r * p, count: cols, bias: bias?.pointer[grp * og + r] ?? 0,
                                  residual: residual.map { $0.pointer + offset }, activation: activation)
                    }
                    continue
                }
                var oc = first
                while oc < last {
                    let rows = min(4, last - oc)
                    let weights = imageWeights(img) + (grp * og + oc) * cg
                    let dst = out.pointer + (img * o + grp * og + oc) * p + c0
                    tile(src, stride: p, inputs: cg, weights: weights, rows: rows, columns: cols, into: dst)
                    let offset = (img * o + grp * og + oc) * p + c0
                    for r in 0..<rows {
                        finishRow(dst + r * p, count: cols, bias: bias?.pointer[grp * og + oc + r] ?? 0,
                                  residual: residual.map { $0.pointer + offset + r * p }, activation: activation)
                    }
                    oc += rows
                }
            }
        }
        return out
    }

    /// `dst[r][j] = Σ_k weights[r·inputs + k] · src[k·stride + j]` for `rows` ≤ 4 rows (each
    /// `stride` apart in `dst`) and `columns` columns.
    @inline(__always)
    private static func tile(_ src: UnsafeMutablePointer<Float>, stride: Int, inputs: Int,
                             weights: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                             into dst: UnsafeMutablePointer<Float>) {
        var j = 0
        if rows == 4 {
            let (w0, w1, w2, w3) = (weights, weights + inputs, weights + 2 * inputs, weights + 3 * inputs)
            while j + 16 <= columns {
                var (a0, b0, a1, b1) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                var (a2, b2, a3, b3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                var s = src + j
                for k in 0..<inputs {
                    let (u, v) = (s.lanes(), (s + 8).lanes())
                    let (x0, x1) = (SIMD8<Float>(repeating: w0[k]), SIMD8<Float>(repeating: w1[k]))
                    let (x2, x3) = (SIMD8<Float>(repeating: w2[k]), SIMD8<Float>(repeating: w3[k]))
                    a0.addProduct(x0, u); b0.addProduct(x0, v)
                    a1.addProduct(x1, u); b1.addProduct(x1, v)
                    a2.addProduct(x2, u); b2.addProduct(x2, v)
                    a3.addProduct(x3, u); b3.addProduct(x3, v)
                    s += stride
                }
                (dst + j).setLanes(a0); (dst + j + 8).setLanes(b0)
                (dst + stride + j).setLanes(a1); (dst + stride + j + 8).setLanes(b1)
                (dst + 2 * stride + j).setLanes(a2); (dst + 2 * stride + j + 8).setLanes(b2)
                (dst + 3 * stride + j).setLanes(a3); (dst + 3 * stride + j + 8).setLanes(b3)
                j += 16
            }
        }
        // Fewer than four rows: one row of sixteen columns at a time; then the last columns.
        for r in 0..<rows {
            let wr = weights + r * inputs, row = dst + r * stride
            var col = rows == 4 ? j : 0
            while rows < 4 && col + 16 <= columns {
                var (a, b) = (SIMD8<Float>(), SIMD8<Float>())
                var s = src + col
                for k in 0..<inputs {
                    let x = SIMD8<Float>(repeating: wr[k])
                    a.addProduct(x, s.lanes()); b.addProduct(x, (s + 8).lanes())
                    s += stride
                }
                (row + col).setLanes(a); (row + col + 8).setLanes(b)
                col += 16
            }
            while col < columns {
                var sum: Float = 0
                for k in 0..<inputs { sum += wr[k] * src[k * stride + col] }
                row[col] = sum
                col += 1
            }
        }
    }
}
