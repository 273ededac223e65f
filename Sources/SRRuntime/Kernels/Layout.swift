import Foundation
import SRCore

extension Kernels {
    /// Concatenation along `axis` (NCHW: 1 = channels).
    public static func concat(_ inputs: [Tensor], axis: Int, outShape: [Int]) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let outer = outShape.prefix(axis).reduce(1, *)
        let outChunk = outShape.suffix(from: axis).reduce(1, *)
        var offset = 0
        for t in inputs {
            let chunk = t.shape.suffix(from: axis).reduce(1, *)
            for o in 0..<outer {
                (out.pointer + o * outChunk + offset).update(from: t.pointer + o * chunk, count: chunk)
            }
            offset += chunk
        }
        return out
    }

    /// Softmax along `axis`, max-subtracted.
    public static func softmax(_ x: Tensor, axis: Int) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let outer = x.shape.prefix(axis).reduce(1, *), len = x.shape[axis]
        let inner = x.shape.suffix(from: axis + 1).reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * len * inner + i
                var m = -Float.infinity
                for k in 0..<len { m = max(m, x.pointer[base + k * inner]) }
                var s: Float = 0
                for k in 0..<len { let e = expf(x.pointer[base + k * inner] - m); out.pointer[base + k * inner] = e; s += e }
                for k in 0..<len { out.pointer[base + k * inner] /= s }
            }
        }
        return out
    }

    /// Constant spatial padding, pads `[top, left, bottom, right]`.
    public static func pad(_ x: Tensor, pads: [Int], value: Float, outShape: [Int]) -> Tensor {
        let out = Tensor(zeros: outShape)
        let (h, w, ho, wo) = (x.shape[2], x.shape[3], outShape[2], outShape[3])
        if value != 0 { out.pointer.update(repeating: value, count: out.count) }
        for nc in 0..<x.shape[0] * x.shape[1] {
            for y in 0..<h {
                (out.pointer + nc * ho * wo + (y + pads[0]) * wo + pads[1]).update(from: x.pointer + nc * h * w + y * w, count: w)
            }
        }
        return out
    }
}
