/// An op attribute as shown by `inspect` (text and JSON).
public enum AttributeValue: Sendable, Equatable, Encodable, CustomStringConvertible {
    case int(Int)
    case float(Float)
    case ints([Int])
    case bool(Bool)
    case text(String)

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .float(let v): "\(v)"
        case .ints(let v): "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .bool(let v): "\(v)"
        case .text(let v): v
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .float(let v): try c.encode(v)
        case .ints(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .text(let v): try c.encode(v)
        }
    }
}

extension Op {
    /// The op's attributes by name, in a fixed order.
    public var attributes: [(String, AttributeValue)] {
        switch self {
        case .conv2d(let a):
            [("kernel", .ints(a.kernel)), ("stride", .ints(a.stride)), ("pads", .ints(a.pads)),
             ("dilation", .ints(a.dilation)), ("group", .int(a.group))]
        case .convTranspose2d(let t):
            [("kernel", .ints(t.conv.kernel)), ("stride", .ints(t.conv.stride)), ("pads", .ints(t.conv.pads)),
             ("dilation", .ints(t.conv.dilation)), ("group", .int(t.conv.group)), ("output_padding", .ints(t.outputPadding))]
        case .maxPool2d(let a), .avgPool2d(let a):
            [("kernel", .ints(a.kernel)), ("stride", .ints(a.stride)), ("pads", .ints(a.pads)),
             ("ceil_mode", .bool(a.ceilMode))] + (isAverage ? [("count_include_pad", .bool(a.countIncludePad))] : [])
        case .lrn(let a):
            [("size", .int(a.size)), ("alpha", .float(a.alpha)), ("beta", .float(a.beta)), ("k", .float(a.k)),
             ("across_channels", .bool(a.acrossChannels))]
        case .relu(let slope): slope == 0 ? [] : [("slope", .float(slope))]
        case .batchNorm(let eps): [("epsilon", .float(eps))]
        case .concat(let axis), .softmax(let axis): [("axis", .int(axis))]
        case .reshape(let shape): [("shape", .ints(shape))]
        case .power(let e): [("exponent", .float(e))]
        case .thresholdedRelu(let t): [("threshold", .float(t))]
        case .clip(let lo, let hi): [("min", .float(lo)), ("max", .float(hi))]
        case .pad(let pads, let value): [("pads", .ints(pads)), ("value", .float(value))]
        case .scale(let axis): axis == 1 ? [] : [("axis", .int(axis))]
        case .transpose(let perm): [("perm", .ints(perm))]
        case .reduce(let a): [("kind", .text(a.kind.rawValue)), ("axes", .ints(a.axes)), ("keep_dims", .bool(a.keepDims))]
        case .slice(let axis, let start, let end, let step):
            [("axis", .int(axis)), ("start", .int(start)), ("end", .int(end))] + (step == 1 ? [] : [("step", .int(step))])
        case .unary(let f): f.parameters.map { ($0.0, .float($0.1)) }
        case .resize(let a):
            [("mode", .text(a.mode.rawValue)), ("coordinates", .text(a.coordinates.rawValue))]
                + (a.mode == .nearest ? [("rounding", .text(a.rounding.rawValue))] : [])
                + [("size", .ints(a.size))]
        case .layerNorm(let axis, let eps): [("axis", .int(axis)), ("epsilon", .float(eps))]
        case .linear, .prelu, .globalAvgPool, .globalMaxPool, .add, .mul, .max, .flatten, .sigmoid,
             .tanh, .identity, .matmul, .batchConstant:
            []
        }
    }

    private var isAverage: Bool {
        if case .avgPool2d = self { return true }
        return false
    }
}
