/// Attributes of a 2-D convolution. Weights `OIHW` with `I = C / group`.
public struct Conv2DAttributes: Codable, Equatable, Sendable {
    public var kernel: [Int]     // [kh, kw]
    public var stride: [Int]     // [sh, sw]
    public var pads: [Int]       // [top, left, bottom, right]
    public var dilation: [Int]   // [dh, dw]
    public var group: Int

    public init(kernel: [Int], stride: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0],
                dilation: [Int] = [1, 1], group: Int = 1) {
        self.kernel = kernel; self.stride = stride; self.pads = pads
        self.dilation = dilation; self.group = group
    }
}

/// Attributes of a transposed 2-D convolution (the adjoint of `conv2d` with the same
/// kernel, stride, pads, dilation and groups). Weights `[C_in, C_out / group, kh, kw]`.
public struct ConvTranspose2DAttributes: Codable, Equatable, Sendable {
    public var conv: Conv2DAttributes
    /// Extra output rows and columns at the bottom and right, `[h, w]`, each below the
    /// stride or the dilation.
    public var outputPadding: [Int]

    public init(conv: Conv2DAttributes, outputPadding: [Int] = [0, 0]) {
        self.conv = conv; self.outputPadding = outputPadding
    }
}

/// Attributes of a spatial resize of NCHW data (ONNX Resize, Keras UpSampling2D).
public struct ResizeAttributes: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable { case nearest, linear }
    /// How an output pixel maps to the input (ONNX `coordinate_transformation_mode`).
    public enum Coordinates: String, Codable, Sendable {
        case halfPixel = "half_pixel", pytorchHalfPixel = "pytorch_half_pixel", alignCorners = "align_corners"
        case asymmetric
    }
    /// How `nearest` rounds a fractional source index (ONNX `nearest_mode`).
    public enum Rounding: String, Codable, Sendable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil
    }
    public var mode: Mode
    public var coordinates: Coordinates
    public var rounding: Rounding
    /// Output `[h, w]`.
    public var size: [Int]
    /// The scales the coordinates use, `[h, w]`: the file's own when it gave scales,
    /// else output / input.
    public var scales: [Float]

    public init(mode: Mode, coordinates: Coordinates, rounding: Rounding, size: [Int], scales: [Float]) {
        self.mode = mode; self.coordinates = coordinates; self.rounding = rounding; self.size = size; self.scales = scales
    }
}

/// Attributes of max and average pooling.
public struct Pool2DAttributes: Codable, Equatable, Sendable {
    public var kernel: [Int]     // [kh, kw]
    public var stride: [Int]     // [sh, sw]
    public var pads: [Int]       // [top, left, bottom, right]
    /// Round the output size up (Caffe always, ONNX `ceil_mode = 1`).
    public var ceilMode: Bool
    /// Average pooling only: divide by the window clipped to the padded input
    /// (`true`: ONNX `count_include_pad = 1`, Caffe) or by the valid elements (`false`).
    public var countIncludePad: Bool

    public init(kernel: [Int], stride: [Int], pads: [Int] = [0, 0, 0, 0],
                ceilMode: Bool = false, countIncludePad: Bool = false) {
        self.kernel = kernel; self.stride = stride; self.pads = pads
        self.ceilMode = ceilMode; self.countIncludePad = countIncludePad
    }
}

/// Local response normalisation: `y = x / (k + α/n · Σ x²)^β` over `size` neighbouring
/// channels (across) or a `size × size` spatial window (within channel).
public struct LRNAttributes: Codable, Equatable, Sendable {
    public var size: Int
    public var alpha: Float
    public var beta: Float
    public var k: Float
    public var acrossChannels: Bool

    public init(size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1,
                acrossChannels: Bool = true) {
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
        self.acrossChannels = acrossChannels
    }
}

/// What a `reduce` node computes over its axes.
public enum ReduceKind: String, Codable, CaseIterable, Sendable {
    case mean, sum, max, min
}

/// Attributes of a reduction over some non-batch axes.
public struct ReduceAttributes: Codable, Equatable, Sendable {
    public var kind: ReduceKind
    /// Sorted, distinct, each in `1..<rank`.
    public var axes: [Int]
    /// Keep the reduced axes as size 1 (ONNX `keepdims = 1`) or drop them.
    public var keepDims: Bool

    public init(kind: ReduceKind, axes: [Int], keepDims: Bool) {
        self.kind = kind; self.axes = axes; self.keepDims = keepDims
    }
}

/// The closed set of canonical ops every importer lowers onto. Every `switch` over it is
/// exhaustive, so a new op does not compile until every consumer handles it.
/// Parameter roles (`Node.params` keys) are listed in `paramRoles`.
public enum Op: Equatable, Sendable {
    case conv2d(Conv2DAttributes)
    case convTranspose2d(ConvTranspose2DAttributes)
    /// `y = x·Wᵀ + b` on the last axis, W `[out, in]`: `[N, …, in] → [N, …, out]`.
    case linear
    case relu(slope: Float)
    /// Per-channel slope (`[C]`) or one shared slope (`[1]`).
    case prelu
    case maxPool2d(Pool2DAttributes)
    case avgPool2d(Pool2DAttributes)
    case globalAvgPool
    case globalMaxPool
    case lrn(LRNAttributes)
    /// Inference batch norm: `(x − mean)/√(var + ε)·scale + bias` per channel.
    case batchNorm(epsilon: Float)
    /// Affine `w·x + b` along one axis (`[C]` values for that axis, or one scalar `[1]`):
    /// axis 1 is the channel of NCHW data, the last axis the features of token data.
    case scale(axis: Int)
    /// Element-wise sum of two or more inputs with numpy broadcasting.
    case add
    case mul
    case max
    case concat(axis: Int)
    /// `[N, …] → [N, ∏…]`.
    case flatten
    /// Per-sample target shape (the batch axis is kept).
    case reshape(shape: [Int])
    case softmax(axis: Int)
    case sigmoid
    case tanh
    /// `y = x` where `x > threshold`, else 0 (ONNX ThresholdedRelu, Keras ReLU's threshold).
    case thresholdedRelu(threshold: Float)
    /// `y = x^exponent` element-wise (Caffe's Power after its scale and shift).
    case power(exponent: Float)
    case clip(min: Float, max: Float)
    /// Constant spatial padding, pads `[top, left, bottom, right]`.
    case pad(pads: [Int], value: Float)
    case identity
    /// Axes permuted: output axis `i` is input axis `perm[i]`; `perm[0] == 0` (the batch
    /// axis stays first).
    case transpose(perm: [Int])
    case reduce(ReduceAttributes)
    /// Elements `start, start + step, …` below `end` of one non-batch axis (`0 ≤ start <
    /// end ≤ size`, `step ≥ 1`: importers resolve negative and clamped bounds).
    case slice(axis: Int, start: Int, end: Int, step: Int)
    /// An element-wise function of one input (`UnaryFunction.swift`).
    case unary(UnaryFunction)
    /// `(x − μ)/√(σ² + ε)·scale + bias`, μ and σ² over the axes from `axis` to the last;
    /// `scale` and `bias` have the shape of those axes.
    case layerNorm(axis: Int, epsilon: Float)
    /// `A·B` of two activations over their last two axes (`[…, M, K]·[…, K, N]`), the
    /// leading axes broadcast: attention's `q·kᵀ` and `softmax·v`.
    case matmul
    /// A constant per-sample tensor (param `value`, `[1, …]`) repeated over the batch of the
    /// one input, which gives only the batch size: a class token, a position embedding, any
    /// constant operand that varies along more than one axis.
    case batchConstant
    case resize(ResizeAttributes)

    /// The op's name in the IR, the `.srm` graph JSON and `inspect`.
    public var name: String {
        switch self {
        case .conv2d: "conv2d"
        case .convTranspose2d: "convTranspose2d"
        case .linear: "linear"
        case .relu: "relu"
        case .prelu: "prelu"
        case .maxPool2d: "maxPool2d"
        case .avgPool2d: "avgPool2d"
        case .globalAvgPool: "globalAvgPool"
        case .globalMaxPool: "globalMaxPool"
        case .lrn: "lrn"
        case .batchNorm: "batchNorm"
        case .scale: "scale"
        case .add: "add"
        case .mul: "mul"
        case .max: "max"
        case .concat: "concat"
        case .flatten: "flatten"
        case .reshape: "reshape"
        case .softmax: "softmax"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .power: "power"
        case .thresholdedRelu: "thresholdedRelu"
        case .clip: "clip"
        case .pad: "pad"
        case .identity: "identity"
        case .transpose: "transpose"
        case .reduce: "reduce"
        case .slice: "slice"
        case .unary(let f): f.name
        case .layerNorm: "layerNorm"
        case .matmul: "matmul"
        case .batchConstant: "batchConstant"
        case .resize: "resize"
        }
    }

    /// Parameter roles: required first, then optional.
    public var paramRoles: (required: [String], optional: [String]) {
        switch self {
        case .conv2d, .convTranspose2d, .linear: (["weight"], ["bias"])
        case .prelu: (["slope"], [])
        case .batchNorm: (["mean", "variance"], ["scale", "bias"])
        case .scale: (["weight"], ["bias"])
        case .layerNorm: ([], ["scale", "bias"])
        case .batchConstant: (["value"], [])
        case .relu, .maxPool2d, .avgPool2d, .globalAvgPool, .globalMaxPool, .lrn, .add, .mul,
             .max, .concat, .flatten, .reshape, .softmax, .sigmoid, .tanh, .power, .thresholdedRelu, .clip, .pad, .identity,
             .transpose, .reduce, .slice, .unary, .matmul, .resize:
            ([], [])
        }
    }

    /// How many data inputs the op takes (`nil`: two or more).
    public var inputArity: Int? {
        switch self {
        case .add, .mul, .max, .concat: nil
        case .matmul: 2
        case .conv2d, .convTranspose2d, .linear, .relu, .prelu, .maxPool2d, .avgPool2d, .globalAvgPool,
             .globalMaxPool, .lrn, .batchNorm, .scale, .flatten, .reshape, .softmax, .sigmoid,
             .tanh, .power, .thresholdedRelu, .clip, .pad, .identity, .transpose, .reduce, .slice, .unary, .layerNorm,
             .batchConstant, .resize:
            1
        }
    }
}
