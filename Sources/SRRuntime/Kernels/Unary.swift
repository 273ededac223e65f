import CKernels
import Foundation
import SRCore

/// Values and derivatives of the element-wise functions (`Op.unary`), in float32 for the
/// kernels and float64 for the naive twins.
extension UnaryFunction {
    /// `f(x)` in float32.
    @inline(__always) public func value(_ x: Float) -> Float {
        switch self {
        case .erf: return erff(x)
        case .exp: return expf(x)
        case .log: return logf(x)
        case .sqrt: return sqrtf(x)
        case .neg: return -x
        case .abs: return Swift.abs(x)
        case .reciprocal: return 1 / x
        case .gelu: return 0.5 * x * (1 + fastErf(x * 0.70710678118654752))
        case .geluTanh: return 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))
        case .silu: return x / (1 + expf(-x))
        case .hardSwish: return x * Swift.max(0, Swift.min(1, x / 6 + 0.5))
        case .hardSigmoid(let a, let b): return Swift.max(0, Swift.min(1, a * x + b))
        case .elu(let a): return x > 0 ? x : a * (expf(x) - 1)
        case .selu(let a, let g): return x > 0 ? g * x : g * a * (expf(x) - 1)
        case .softplus: return Self.softplus(x)
        case .softsign: return x / (1 + Swift.abs(x))
        case .mish: return x * tanhf(Self.softplus(x))
        }
    }

    /// `f'(x)` in float32 (at a kink, the right-hand derivative of `max`/`min` forms is 0).
    @inline(__always) public func derivative(_ x: Float) -> Float {
        switch self {
        case .erf: return 1.1283791670955126 * expf(-x * x)
        case .exp: return expf(x)
        case .log: return 1 / x
        case .sqrt: return 0.5 / sqrtf(x)
        case .neg: return -1
        case .abs: return x > 0 ? 1 : (x < 0 ? -1 : 0)
        case .reciprocal: return -1 / (x * x)
        case .gelu:
            // Φ(x) + x·φ(x)
            return 0.5 * (1 + fastErf(x * 0.70710678118654752)) + x * 0.39894228040143268 * fastExp(-0.5 * x * x)
        case .geluTanh:
            let u = 0.79788456080286536 * (x + 0.044715 * x * x * x)
            let t = tanhf(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.79788456080286536 * (1 + 3 * 0.044715 * x * x)
        case .silu:
            let s = 1 / (1 + expf(-x))
            return s * (1 + x * (1 - s))
        case .hardSwish: return x < -3 ? 0 : (x > 3 ? 1 : (2 * x + 3) / 6)
        case .hardSigmoid(let a, let b):
            let v = a * x + b
            return v > 0 && v < 1 ? a : 0
        case .elu(let a): return x > 0 ? 1 : a * expf(x)
        case .selu(let a, let g): return x > 0 ? g : g * a * expf(x)
        case .softplus: return 1 / (1 + expf(-x))
        case .softsign:
            let d = 1 + Swift.abs(x)
            return 1 / (d * d)
        case .mish:
            let t = tanhf(Self.softplus(x))
            return t + x * (1 - t * t) / (1 + expf(-x))
        }
    }

    /// `f(x)` in float64 (the naive twins' reference).
    public func referenceValue(_ x: Double) -> Double {
        switch self {
        case .erf: return Foundation.erf(x)
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .sqrt: return x.squareRoot()
        case .neg: return -x
        case .abs: return Swift.abs(x)
        case .reciprocal: return 1 / x
        case .gelu: return 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .silu: return x / (1 + Foundation.exp(-x))
        case .hardSwish: return x * Swift.max(0, Swift.min(1, x / 6 + 0.5))
        case .hardSigmoid(let a, let b): return Swift.max(0, Swift.min(1, Double(a) * x + Double(b)))
        case .elu(let a): return x > 0 ? x : Double(a) * (Foundation.exp(x) - 1)
        case .selu(let a, let g): return x > 0 ? Double(g) * x : Double(g) * Double(a) * (Foundation.exp(x) - 1)
        case .softplus: return Foundation.log(1 + Foundation.exp(x))
        case .softsign: return x / (1 + Swift.abs(x))
        case .mish: return x * Foundation.tanh(Foundation.log(1 + Foundation.exp(x)))
        }
    }

    /// `ln(1 + eˣ)` without overflow: `max(x, 0) + ln(1 + e^−|x|)`.
    @inline(__always) static func softplus(_ x: Float) -> Float {
        Swift.max(x, 0) + log1pf(expf(-Swift.abs(x)))
    }
}

extension Kernels {
    /// `f` applied element-wise, into `out` (a fresh tensor, or `x` itself: the executor's
    /// in-place activation). The switch over `f` is outside the loop: each case runs its own
    /// loop, specialised for its formula.
    public static func unary(_ x: Tensor, _ f: UnaryFunction, into target: Tensor? = nil) -> Tensor {
        let out = target ?? Tensor(uninitialized: x.shape)
        let (o, p) = (out.pointer, x.pointer)
        let activation = FusedActivation.unary(f)
        Parallel.forEach(x.count, minChunk: 1 << 14) { r in
            activation.apply(p + r.lowerBound, o + r.lowerBound, count: r.count)
        }
        return out
    }

    /// The input gradient `g·f'(x)` of `unary(f)`: SiLU's and GELU's by `CKernels` (sixteen
    /// lanes where the CPU has AVX-512, the same exp and erf as their forward loops), the
    /// others by `derivative` — MobileNetV3's HardSwish and HardSigmoid each in a loop of its
    /// own, where the constant case folds the switch away and the loop vectorises.
    public static func unaryBackward(_ g: Tensor, input x: Tensor, _ f: UnaryFunction) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let (o, gp, xp) = (out.pointer, g.pointer, x.pointer)
        @inline(__always) func each(_ d: (Float) -> Float) {
            Parallel.forEach(x.count, minChunk: 1 << 15) { r in for i in r { o[i] = gp[i] * d(xp[i]) } }
        }
        switch f {
        case .silu, .gelu:
            let kernel = f == .silu ? srk_silu_backward : srk_gelu_backward
            Parallel.forEach(x.count, minChunk: 1 << 15) { r in
                kernel(xp + r.lowerBound, gp + r.lowerBound, o + r.lowerBound, r.count)
            }
        case .hardSwish:
            each { UnaryFunction.hardSwish.derivative($0) }
        case .hardSigmoid(let a, let b):
            each { UnaryFunction.hardSigmoid(alpha: a, beta: b).derivative($0) }
        default:
            each { f.derivative($0) }
        }
        return out
    }
}
