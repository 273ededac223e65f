/// The element-wise functions of `Op.unary`. Their values and derivatives are in
/// `SRRuntime/Kernels/Unary.swift`; the equations are those of the ONNX operators of the
/// same names (PyTorch and Keras agree with them).
public enum UnaryFunction: Equatable, Sendable {
    case erf, exp, log, sqrt, neg, abs, reciprocal
    /// `x·Φ(x)`, Φ the normal CDF (`0.5·x·(1 + erf(x/√2))`).
    case gelu
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    case geluTanh
    /// `x·σ(x)` (Swish with β = 1).
    case silu
    /// `x·max(0, min(1, x/6 + 1/2))`.
    case hardSwish
    /// `max(0, min(1, α·x + β))`.
    case hardSigmoid(alpha: Float, beta: Float)
    /// `x` for `x > 0`, else `α·(eˣ − 1)`.
    case elu(alpha: Float)
    /// `γ·x` for `x > 0`, else `γ·α·(eˣ − 1)`.
    case selu(alpha: Float, gamma: Float)
    /// `ln(1 + eˣ)`.
    case softplus
    /// `x/(1 + |x|)`.
    case softsign
    /// `x·tanh(softplus(x))`.
    case mish

    /// The name in the IR, `.srm` and `inspect`.
    public var name: String {
        switch self {
        case .erf: "erf"
        case .exp: "exp"
        case .log: "log"
        case .sqrt: "sqrt"
        case .neg: "neg"
        case .abs: "abs"
        case .reciprocal: "reciprocal"
        case .gelu: "gelu"
        case .geluTanh: "geluTanh"
        case .silu: "silu"
        case .hardSwish: "hardSwish"
        case .hardSigmoid: "hardSigmoid"
        case .elu: "elu"
        case .selu: "selu"
        case .softplus: "softplus"
        case .softsign: "softsign"
        case .mish: "mish"
        }
    }

    /// The function's parameters by name, in a fixed order.
    public var parameters: [(String, Float)] {
        switch self {
        case .hardSigmoid(let a, let b): [("alpha", a), ("beta", b)]
        case .elu(let a): [("alpha", a)]
        case .selu(let a, let g): [("alpha", a), ("gamma", g)]
        case .erf, .exp, .log, .sqrt, .neg, .abs, .reciprocal, .gelu, .geluTanh, .silu, .hardSwish, .softplus,
             .softsign, .mish:
            []
        }
    }

    /// The function called `name` with its parameters looked up by name (defaults: ONNX's).
    public init?(name: String, parameter: (String) -> Float?) {
        switch name {
        case "erf": self = .erf
        case "exp": self = .exp
        case "log": self = .log
        case "sqrt": self = .sqrt
        case "neg": self = .neg
        case "abs": self = .abs
        case "reciprocal": self = .reciprocal
        case "gelu": self = .gelu
        case "geluTanh": self = .geluTanh
        case "silu": self = .silu
        case "hardSwish": self = .hardSwish
        case "hardSigmoid": self = .hardSigmoid(alpha: parameter("alpha") ?? 0.2, beta: parameter("beta") ?? 0.5)
        case "elu": self = .elu(alpha: parameter("alpha") ?? 1)
        case "selu": self = .selu(alpha: parameter("alpha") ?? 1.67326319217681884765625,
                                  gamma: parameter("gamma") ?? 1.05070102214813232421875)
        case "softplus": self = .softplus
        case "softsign": self = .softsign
        case "mish": self = .mish
        default: return nil
        }
    }

    /// Every function, with default parameters (tests and the README's op table).
    public static let all: [UnaryFunction] = [
        .erf, .exp, .log, .sqrt, .neg, .abs, .reciprocal, .gelu, .geluTanh, .silu, .hardSwish,
        .hardSigmoid(alpha: 0.2, beta: 0.5), .elu(alpha: 1), .selu(alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875),
        .softplus, .softsign, .mish,
    ]
}
