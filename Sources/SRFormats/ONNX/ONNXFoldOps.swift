import Foundation
import SRCore

/// The folding of element-wise functions, transposes of any rank, ScatterND and MatMul on
/// constants. Float results are computed in float32, as a runtime would, then held as
/// doubles.
extension FoldValue {
    static let unaryFunctions: Set<String> = ["Not", "Relu", "Sigmoid", "Exp", "Log", "Abs", "Sign", "Tanh", "Floor", "Ceil"]

    /// One of `unaryFunctions` applied to every value.
    func map(_ op: String) throws -> FoldValue {
        func f32(_ f: (Float) -> Float) -> [Double] { values.map { Double(f(Float($0))) } }
        switch op {
        case "Not": return FoldValue(shape: shape, values: values.map { $0 == 0 ? 1 : 0 }, isFloat: false)
        case "Relu": return FoldValue(shape: shape, values: values.map { Swift.max($0, 0) }, isFloat: isFloat)
        case "Abs": return FoldValue(shape: shape, values: values.map { Swift.abs($0) }, isFloat: isFloat)
        case "Sign": return FoldValue(shape: shape, values: values.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }, isFloat: isFloat)
        case "Floor": return FoldValue(shape: shape, values: values.map { $0.rounded(.down) }, isFloat: isFloat)
        case "Ceil": return FoldValue(shape: shape, values: values.map { $0.rounded(.up) }, isFloat: isFloat)
        case "Sigmoid": return FoldValue(shape: shape, values: f32 { 1 / (1 + Foundation.exp(-$0)) }, isFloat: true)
        case "Exp": return FoldValue(shape: shape, values: f32 { Foundation.exp($0) }, isFloat: true)
        case "Log": return FoldValue(shape: shape, values: f32 { Foundation.log($0) }, isFloat: true)
        case "Tanh": return FoldValue(shape: shape, values: f32 { Foundation.tanh($0) }, isFloat: true)
        default: throw SRError.internalError("no folding for '\(op)'")
        }
    }

    /// ONNX Transpose: output axis i is input axis perm[i].
    func transposed(_ perm: [Int], node a: ONNXAttributes) throws -> FoldValue {
        let rank = shape.count
        guard perm.sorted() == Array(0..<rank) else { throw a.fail("bad perm \(perm) for a constant of shape \(shape)") }
        let out = perm.map { shape[$0] }
        let inStrides = FoldValue.strides(shape), outStrides = FoldValue.strides(out)
        var result = [Double](repeating: 0, count: values.count)
        let moved = perm.map { inStrides[$0] }
        for i in 0..<values.count {
            result[i] = values[FoldValue.sourceOffsets(of: i, strides: outStrides, operands: [moved])[0]]
        }
        return FoldValue(shape: out, values: result, isFloat: isFloat)
    }

    /// ONNX ScatterND (reduction none): `indices` [..., k] address k-prefixes of the data's
    /// axes; each is overwritten by the matching slice of `updates`.
    func scatterND(_ indices: FoldValue, _ updates: FoldValue, node a: ONNXAttributes) throws -> FoldValue {
        guard let k = indices.shape.last, k >= 1, k <= shape.count else {
            throw a.fail("indices of shape \(indices.shape) for data of shape \(shape)")
        }
        let slice = shape.suffix(from: k).reduce(1, *)
        let count = indices.shape.dropLast().reduce(1, *)
        guard updates.shape == Array(indices.shape.dropLast()) + Array(shape.suffix(from: k)),
              updates.values.count == count * slice else {
            throw a.fail("updates of shape \(updates.shape) do not match indices \(indices.shape) and data \(shape)")
        }
        let st = FoldValue.strides(shape)
        var out = values
        for j in 0..<count {
            var offset = 0
            for d in 0..<k {
                let v = indices.values[j * k + d]
                guard v.isFinite, v == v.rounded(), Swift.abs(v) <= Double(shape[d]) else { throw a.fail("index \(v) out of range") }
                let i = Int(v) < 0 ? Int(v) + shape[d] : Int(v)
                guard i >= 0, i < shape[d] else { throw a.fail("index \(v) out of range for axis \(d) of \(shape)") }
                offset += i * st[d]
            }
            out.replaceSubrange(offset..<(offset + slice), with: updates.values[(j * slice)..<((j + 1) * slice)])
        }
        return FoldValue(shape: shape, values: out, isFloat: isFloat)
    }

    /// ONNX MatMul of constants: [..., M, K] × [K, N] or × [..., K, N] with broadcast
    /// leading axes; 1-D operands as numpy promotes them. Float32 arithmetic.
    func matmul(_ other: FoldValue, cap: Int, node a: ONNXAttributes) throws -> FoldValue {
        let x = shape.count == 1 ? FoldValue(shape: [1] + shape, values: values, isFloat: isFloat) : self
        let y = other.shape.count == 1 ? FoldValue(shape: other.shape + [1], values: other.values, isFloat: other.isFloat) : other
        guard x.shape.count >= 2, y.shape.count >= 2 else { throw a.fail("MatMul of scalars") }
        let (m, k) = (x.shape[x.shape.count - 2], x.shape[x.shape.count - 1])
        let (k2, n) = (y.shape[y.shape.count - 2], y.shape[y.shape.count - 1])
        guard k == k2, let lead = Shape.broadcast([Array(x.shape.dropLast(2)), Array(y.shape.dropLast(2))]),
              let total = Shape.elementCount(lead + [m, n]), total <= cap, total / Swift.max(m * n, 1) * m * n * k <= 1 << 28 else {
            throw a.fail("MatMul of constants of shapes \(shape) and \(other.shape)")
        }
        let batches = lead.reduce(1, *)
        let ls = FoldValue.strides(lead)
        let bx = FoldValue.broadcastStrides(Array(x.shape.dropLast(2)), to: lead)
        let by = FoldValue.broadcastStrides(Array(y.shape.dropLast(2)), to: lead)
        var out = [Double](repeating: 0, count: total)
        for b in 0..<batches {
            let at = FoldValue.sourceOffsets(of: b, strides: ls, operands: [bx, by])
            let (ox, oy) = (at[0], at[1])
            for i in 0..<m {
                for j in 0..<n {
                    var s: Float = 0
                    for t in 0..<k { s += Float(x.values[(ox * m + i) * k + t]) * Float(y.values[(oy * k + t) * n + j]) }
                    out[(b * m + i) * n + j] = Double(s)
                }
            }
        }
        var outShape = lead + [m, n]
        if other.shape.count == 1 { outShape.removeLast() }
        if shape.count == 1 { outShape.remove(at: outShape.count - (other.shape.count == 1 ? 1 : 2)) }
        return FoldValue(shape: outShape, values: out, isFloat: x.isFloat || y.isFloat)
    }
}
