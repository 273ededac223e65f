import CKernels
import SRCore

extension Kernels {
    /// Whether `stemConv2d` runs a forward-only convolution: an image's first layer (1–4
    /// input channels, one group), a square filter of at most 7 × 7 at stride 2 on both axes,
    /// no dilation, pads within the filter's reach, on a CPU with AVX-512 (stem.c).
    static func stemApplies(_ a: Conv2DAttributes, inChannels c: Int) -> Bool {
        a.group == 1 && a.kernel[0] == a.kernel[1] && a.stride == [2, 2] && a.dilation == [1, 1]
            && a.pads.allSatisfy { $0 < a.kernel[0] } && srk_stem_runs(Int32(c), Int32(a.kernel[0])) != 0
    }

    /// A stem (`stemApplies`) by CKernels' `srk_stem`: sixteen output pixels of a row ×
    /// sixteen channels at a time from the input rows split into even and odd columns, so no
    /// tap needs a gather or a transpose (MobileNetV2's took 0.56 ms of a pass on one thread
    /// as the packed product, whose tiles are transposed into the planes). With `fused` the
    /// packed product's sums, else (under an explanation) those of `directConv2d(fused:
    /// false)`; then the bias and `activation` on each band of rows while it is in cache, as
    /// both add them: the same bits. Tasks are (image, band of 8 output rows).
    static func stemConv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, _ a: Conv2DAttributes, outShape: [Int],
                           activation: FusedActivation?, fused: Bool) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, ho, wo) = (outShape[1], outShape[2], outShape[3])
        let k = a.kernel[0], rows = 8, p = ho * wo
        let bands = (ho + rows - 1) / rows, tasks = n * bands
        let workers = n * o * p * c * k * k < Parallel.directLoopWork ? 1 : min(Parallel.threads, tasks)
        // Whole 64-byte lines per worker.
        let scratchFloats = (srk_stem_scratch(Int32(c), Int32(k), Int32(wo), Int32(o), Int32(rows)) + 15) / 16 * 16
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchFloats * 4 * workers, alignment: 64)
        defer { scratch.deallocate() }
        let out = Tensor(uninitialized: outShape)
        Parallel.forEachWorker(tasks, workers: workers) { worker, range in
            let buffer = (scratch + worker * scratchFloats * 4).assumingMemoryBound(to: Float.self)
            for t in range {
                let img = t / bands, band = t % bands
                let (oy0, oy1) = (band * rows, min(ho, band * rows + rows))
                let image = out.pointer + img * o * p
                srk_stem(x.pointer + img * c * h * wd, Int32(c), Int32(h), Int32(wd), w.pointer, Int32(o), Int32(k),
                         Int32(a.pads[0]), Int32(a.pads[1]), image, Int32(ho), Int32(wo), Int32(oy0), Int32(oy1), buffer,
                         fused ? 1 : 0)
                epilogue(image, channels: o, columns: (oy0 * wo)..<(oy1 * wo), stride: p, bias: bias?.pointer,
                         activation: activation, parallel: false)
            }
        }
        return out
    }
}
