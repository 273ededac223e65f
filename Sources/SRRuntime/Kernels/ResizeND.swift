import Foundation
import SRCore

/// ONNX Resize of NCHW data (nearest or bilinear) and its adjoint. Output pixel `o` of an
/// axis reads input coordinate `c(o)`: `(o + ½)/s − ½` (half_pixel; pytorch_half_pixel the
/// same unless `in·s ≤ 1`, then 0), `o·(in − 1)/(in·s − 1)` (align_corners),
/// `o/s` (asymmetric). Nearest rounds `c` by `rounding`; linear blends the two neighbours
/// `⌊c⌋` and `⌊c⌋ + 1`; indices are clamped to the input (edge values repeat).
extension Kernels {
    /// For each output index of one axis: the input indices read and their weights.
    static func resizeTaps(_ a: ResizeAttributes, axis: Int, input n: Int) -> [(Int, Int, Float)] {
        let out = a.size[axis]
        let s = Double(a.scales[axis])
        // The resized length as ONNX's reference uses it: input·scale, before flooring.
        let resized = Double(n) * s
        return (0..<out).map { o -> (Int, Int, Float) in
            let c: Double
            switch a.coordinates {
            case .halfPixel: c = (Double(o) + 0.5) / s - 0.5
            case .pytorchHalfPixel: c = resized > 1 ? (Double(o) + 0.5) / s - 0.5 : 0
            case .alignCorners: c = resized > 1 ? Double(o) * Double(n - 1) / (resized - 1) : 0
            case .asymmetric: c = Double(o) / s
            }
            func clamp(_ i: Int) -> Int { Swift.min(Swift.max(i, 0), n - 1) }
            switch a.mode {
            case .nearest:
                let i: Double
                switch a.rounding {
                case .roundPreferFloor: i = c == c.rounded(.down) + 0.5 ? c.rounded(.down) : c.rounded()
                case .roundPreferCeil: i = c.rounded()
                case .floor: i = c.rounded(.down)
                case .ceil: i = c.rounded(.up)
                }
                let k = clamp(Int(Swift.max(Swift.min(i, 1e9), -1e9)))
                return (k, k, 0)
            case .linear:
                let f = c.rounded(.down)
                let lo = Int(Swift.max(Swift.min(f, 1e9), -1e9))
                return (clamp(lo), clamp(lo + 1), Float(c - f))
            }
        }
    }

    public static func resize(_ x: Tensor, _ a: ResizeAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (a.size[0], a.size[1])
        let rows = resizeTaps(a, axis: 0, input: h), cols = resizeTaps(a, axis: 1, input: w)
        let out = Tensor(uninitialized: [n, c, ho, wo])
        Parallel.forEach(n * c, minChunk: 1) { range in
            for plane in range {
                let src = x.pointer + plane * h * w, dst = out.pointer + plane * ho * wo
                for (oy, (y0, y1, fy)) in rows.enumerated() {
                    for (ox, (x0, x1, fx)) in cols.enumerated() {
                        let top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx
                        let bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx
                        dst[oy * wo + ox] = top * (1 - fy) + bottom * fy
                    }
                }
            }
        }
        return out
    }

    /// The adjoint of `resize`: each output pixel's signal goes back to the input pixels it
    /// read, with the same weights.
    public static func resizeBackward(_ g: Tensor, inShape: [Int], _ a: ResizeAttributes) -> Tensor {
        let (n, c, h, w) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (ho, wo) = (a.size[0], a.size[1])
        let rows = resizeTaps(a, axis: 0, input: h), cols = resizeTaps(a, axis: 1, input: w)
        let out = Tensor(zeros: inShape)
        Parallel.forEach(n * c, minChunk: 1) { range in
            for plane in range {
                let src = g.pointer + plane * ho * wo, dst = out.pointer + plane * h * w
                for (oy, (y0, y1, fy)) in rows.enumerated() {
                    for (ox, (x0, x1, fx)) in cols.enumerated() {
                        let v = src[oy * wo + ox]
                        dst[y0 * w + x0] += v * (1 - fy) * (1 - fx)
                        dst[y0 * w + x1] += v * (1 - fy) * fx
                        dst[y1 * w + x0] += v * fy * (1 - fx)
                        dst[y1 * w + x1] += v * fy * fx
                    }
                }
            }
        }
        return out
    }
}
