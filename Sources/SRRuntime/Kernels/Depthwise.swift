import CKernels
import SRCore

extension Kernels {
    /// Whether `depthwiseConv2d` runs a forward-only convolution: one filter per channel (C
    /// groups of one input and one output channel), one stride (1 or 2) for both axes, no
    /// dilation, on a CPU with AVX-512; at stride 1 on maps wider than 28 pixels only for the
    /// 3 × 3 and 5 × 5 filters depthwise.c runs on the planes themselves. Other filters on
    /// such maps keep `directConv2d`'s row loops, eight pixels of a row per vector, which
    /// were as fast as the channel blocks there; at stride 2 the channel blocks took 30 %
    /// less time (the row loops first split each row into even and odd columns).
    /// Below AVX-512, depthwise.c has only plain C loops. Both give the same bits.
    static func depthwiseApplies(_ a: Conv2DAttributes, channels c: Int, outChannels o: Int, outWidth wo: Int) -> Bool {
        let planes = a.kernel[0] == a.kernel[1] && (a.kernel[0] == 3 || a.kernel[0] == 5)
        return a.group == c && o == c && a.dilation == [1, 1] && a.stride[0] == a.stride[1] && a.stride[0] <= 2
            && (wo <= 28 || a.stride[0] == 2 || planes) && InstructionSet.inUse == .avx512
    }

    /// A forward-only depthwise convolution with CKernels' `srk_depthwise` (channels in blocks
    /// of 16, each output pixel one vector of the block's channels; or, for 3 × 3 and 5 × 5
    /// filters at stride 1, sixteen pixels of a channel's row per vector), then the bias and
    /// the fused activation on each channel's band of rows while it is in cache: the steps,
    /// and so the bits, of `directConv2d(fused: true)`. Tasks are (image, block of 16
    /// channels, band of output rows), a band's input rows about 96 KB interleaved, its rows
    /// a multiple of the planes' four-row blocks when the map takes more than one. The
    /// channel blocks' filters, one vector per tap, are made once per weight tensor and kept
    /// in `scratch` (each block had gathered its own on every call: a seventh of the time of
    /// MobileNetV3's 7×7 layers, whose blocks have 49 pixels).
    static func depthwiseConv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ a: Conv2DAttributes, outShape: [Int],
                                scratch: Scratch, activation: FusedActivation?) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let (kh, kw, s) = (a.kernel[0], a.kernel[1], a.stride[0])
        let out = Tensor(uninitialized: outShape)
        let paddedWidth = (wo - 1) * s + kw
        let fit = max(1, min(ho, (1536 / paddedWidth - kh) / s + 1))
        // A map that fits is one band (rounding 7 rows down to 4 split EfficientNet-B0's 7×7
        // maps in two, their input rows interleaved twice where the bands overlap).
        let rows = fit >= ho || fit < 4 ? fit : fit / 4 * 4
        let bands = (ho + rows - 1) / rows, blocks = (c + 15) / 16
        let tasks = n * blocks * bands
        let workers = n * c * ho * wo * kh * kw < Parallel.directLoopWork ? 1 : min(Parallel.threads, tasks)
        let filters = scratch.derived(from: w, kind: "depthwise-blocks", groups: c) { w in
            let t = Tensor(uninitialized: [Int(srk_depthwise_blocks_size(Int32(c), Int32(kh * kw)))])
            srk_depthwise_blocks(w.pointer, Int32(c), Int32(kh * kw), t.pointer)
            return t
        }
        let scratchFloats = srk_depthwise_scratch(Int32(kh), Int32(kw), Int32(s), Int32(wo), Int32(rows))
        let work = UnsafeMutableRawPointer.allocate(byteCount: scratchFloats * 4 * workers, alignment: 64)
        defer { work.deallocate() }
        Parallel.forEachWorker(tasks, workers: workers) { worker, range in
            let buffer = (work + worker * scratchFloats * 4).assumingMemoryBound(to: Float.self)
            for t in range {
                let img = t / (blocks * bands), block = (t / bands) % blocks, band = t % bands
                let (c0, c1) = (block * 16, min(c, block * 16 + 16))
                let (oy0, oy1) = (band * rows, min(ho, band * rows + rows))
                let image = out.pointer + img * c * ho * wo
                srk_depthwise(x.pointer + img * c * h * wd, Int32(h), Int32(wd), w.pointer, filters.pointer, Int32(kh),
                              Int32(kw), Int32(s), Int32(a.pads[0]), Int32(a.pads[1]), image, Int32(ho), Int32(wo),
                              Int32(c0), Int32(c1), Int32(oy0), Int32(oy1), buffer)
                let count = (oy1 - oy0) * wo
                for ch in c0..<c1 {
                    let run = image + (ch * ho + oy0) * wo, b = bias?.pointer[ch] ?? 0
                    if let activation { activation.apply(run, run, count: count, bias: b) } else if b != 0 {
                        for i in 0..<count { run[i] += b }
                    }
                }
            }
        }
        return out
    }
}
