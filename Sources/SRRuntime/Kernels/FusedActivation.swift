import CKernels
import Foundation
import SRCore

/// An activation run inside the kernel that made its input, on rows still in cache: the
/// executor's conv → activation fusion in forward-only runs (a conv's bias pass and its
/// ReLU / ReLU6 / HardSwish / SiLU become one pass over the output). The loops are written
/// out per function so they vectorise; `Kernels.unary` runs the same loops.
public enum FusedActivation: Sendable, Equatable {
    case relu(slope: Float)
    /// ONNX Clip (MobileNetV2's ReLU6: 0, 6), as `Kernels.clip`.
    case clip(min: Float, max: Float)
    case unary(UnaryFunction)

    /// `dst[i] = f(src[i] + bias)` for i in 0..<count; `src` may equal `dst`.
    @inline(__always)
    func apply(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int, bias: Float = 0) {
        // One pointer when in place: with two equal pointers the vectoriser's overlap check
        // would send every loop down its scalar path.
        if src == dst { run(dst, dst, count, bias) } else { run(src, dst, count, bias) }
    }

    @inline(__always)
    private func run(_ p: UnsafeMutablePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ count: Int, _ b: Float) {
        switch self {
        case .relu(let slope):
            if slope == 0 {
                for i in 0..<count { let v = p[i] + b; o[i] = v > 0 ? v : 0 }
            } else {
                for i in 0..<count { let v = p[i] + b; o[i] = v > 0 ? v : v * slope }
            }
        case .clip(let lo, let hi):
            for i in 0..<count { let v = p[i] + b; o[i] = Swift.min(Swift.max(v, lo), hi) }
        case .unary(.hardSwish):
            for i in 0..<count { let v = p[i] + b; o[i] = v * Swift.max(0, Swift.min(1, v / 6 + 0.5)) }
        case .unary(.hardSigmoid(let alpha, let beta)):
            for i in 0..<count { let v = p[i] + b; o[i] = Swift.max(0, Swift.min(1, alpha * v + beta)) }
        case .unary(.silu):
            // Sixteen lanes where the CPU has AVX-512 (`CKernels`: eˣ by a table, activation.c).
            srk_silu(p, o, count, b)
        case .unary(.gelu):
            srk_gelu(p, o, count, b)
        case .unary(let f):
            for i in 0..<count { o[i] = f.value(p[i] + b) }
        }
    }
}
