import Foundation
import SRCore

/// Constant folding at import: `Constant`, `ConstantOfShape`, `Shape` of an activation
/// (its shape is known) or of a constant, shape arithmetic (`Gather`, `Unsqueeze`,
/// `Squeeze`, `Concat`, `Cast`, `Slice`, `Reshape`, `Flatten`, `Identity`, `Transpose`,
/// `Add`, `Sub`, `Mul`, `Div`, `Mod`, `Pow`, `Equal`, comparisons, logic, `Where`, `Expand`,
/// `Range`, `ScatterND`) and element-wise functions and `MatMul` whose inputs are all
/// constant: what vision-transformer exports compute from shapes (Swin's shifted-window
/// mask, Swin V2's continuous position bias MLP over its coordinate table).
extension ONNXGraphBuilder {
    /// Folds the node if it can be; returns false when it must be lowered instead.
    func fold(_ proto: Onnx_NodeProto, attributes a: ONNXAttributes) throws -> Bool {
        let op = proto.opType
        let ins = proto.input
        guard let out = proto.output.first, !out.isEmpty else { return false }
        if op == "Shape", let first = ins.first, let s = fileShape(first) ?? constant(first)?.shape {
            let n = s.count
            var start = try a.int("start", 0), end = try a.int("end", n)
            if start < 0 { start += n }
            if end < 0 { end += n }
            start = min(max(start, 0), n); end = min(max(end, start), n)
            constants[out] = .ints(shape: [end - start], values: Array(s[start..<end]))
            return true
        }
        if op == "Constant" {
            constants[out] = try constantAttribute(a)
            return true
        }
        let foldable: Set<String> = ["ConstantOfShape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Slice",
                                     "Reshape", "Flatten", "Identity", "Transpose", "Add", "Sub", "Mul", "Div", "Neg",
                                     "Mod", "Equal", "Where", "Expand", "Range", "Sqrt", "Reciprocal", "Pow", "Less",
                                     "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Max", "Min",
                                     "ScatterND", "MatMul", "Clip"]
        let present = ins.filter { !$0.isEmpty }
        if FoldValue.unaryFunctions.contains(op), present.count == 1, let c = constant(present[0]) {
            constants[out] = try FoldValue(c).map(op).constant()
            return true
        }
        guard foldable.contains(op), !present.isEmpty, present.allSatisfy({ constant($0) != nil }) else { return false }
        let values = present.compactMap { constant($0) }.map(FoldValue.init)
        guard let x = values.first else { return false }
        let result: FoldValue
        switch op {
        case "ConstantOfShape":
            // Written straight into a float32 tensor: the ONNX light models' weights
            // (`[4096, 25088]` for VGG-19's fc6) are this op's output.
            let dims = try x.ints("shape", node: a)
            guard let n = Shape.elementCount(dims), dims.allSatisfy({ $0 >= 0 }) else { throw a.fail("bad shape \(dims)") }
            try limits.check(elements: n, what: "node '\(a.node)' (ConstantOfShape) output")
            foldedElements += n
            guard foldedElements <= limits.maxFoldedElements else {
                throw SRError.malformed("node '\(a.node)' (ConstantOfShape): constants made from shapes reach \(foldedElements) elements, more than srtool builds (\(limits.maxFoldedElements))")
            }
            let fill = try a.tensor("value").map { FoldValue(try $0.constant(modelDirectory: nil, limits: .default)) }
            if fill?.isFloat ?? true {
                let t = Tensor(zeros: dims)
                let v = Float(fill?.values.first ?? 0)
                if v != 0 { t.pointer.update(repeating: v, count: n) }
                constants[out] = .floats(t)
                return true
            }
            guard n <= 1 << 24 else { throw a.fail("an integer constant of shape \(dims)") }  // as doubles
            result = FoldValue(shape: dims, values: [Double](repeating: fill?.values.first ?? 0, count: n), isFloat: false)
        case "Gather":
            guard values.count == 2 else { throw a.fail("needs data and indices") }
            result = try x.gather(values[1], axis: try a.int("axis", 0), node: a)
        case "Unsqueeze", "Squeeze":
            var axes = try a.ints("axes") ?? (values.count > 1 ? values[1].ints("axes", node: a) : [])
            if op == "Unsqueeze" {
                let rank = x.shape.count + axes.count
                axes = axes.map { $0 < 0 ? $0 + rank : $0 }
                var dims = x.shape.makeIterator()
                result = FoldValue(shape: (0..<rank).map { axes.contains($0) ? 1 : (dims.next() ?? 1) },
                                   values: x.values, isFloat: x.isFloat)
            } else {
                axes = axes.map { $0 < 0 ? $0 + x.shape.count : $0 }
                let dims = x.shape.enumerated().filter { axes.isEmpty ? $0.1 != 1 : !axes.contains($0.0) }.map(\.1)
                result = FoldValue(shape: dims, values: x.values, isFloat: x.isFloat)
            }
        case "Concat":
            var axis = try a.int("axis", 0)
            if axis < 0 { axis += x.shape.count }
            result = try FoldValue.concat(values, axis: axis, node: a)
        case "Cast":
            let to = try a.int("to", 1)
            let isFloat = [1, 10, 11, 16].contains(to)
            result = FoldValue(shape: x.shape, values: isFloat ? x.values : x.values.map { $0.rounded(.towardZero) },
                               isFloat: isFloat)
        case "Slice":
            result = try x.slice(values, attributes: a, opset: opset)
        case "Reshape":
            guard values.count == 2 else { throw a.fail("needs a shape") }
            var dims = try values[1].ints("shape", node: a)
            for (i, d) in dims.enumerated() where d == 0 && i < x.shape.count { dims[i] = x.shape[i] }
            if let m = dims.firstIndex(of: -1) {
                var rest = dims
                rest.remove(at: m)
                guard let known = Shape.elementCount(rest), known > 0 else { throw a.fail("bad shape \(dims)") }
                dims[m] = x.values.count / known
            }
            guard Shape.elementCount(dims) == x.values.count else { throw a.fail("cannot reshape \(x.shape) to \(dims)") }
            result = FoldValue(shape: dims, values: x.values, isFloat: x.isFloat)
        case "Flatten":
            var axis = try a.int("axis", 1)
            if axis < 0 { axis += x.shape.count }
            guard axis >= 0, axis <= x.shape.count else { throw a.fail("flatten axis \(axis) out of range") }
            let lead = x.shape.prefix(axis).reduce(1, *)
            result = FoldValue(shape: [lead, lead == 0 ? 0 : x.values.count / lead], values: x.values, isFloat: x.isFloat)
        case "Identity":
            result = x
        case "Transpose":
            let perm = try a.ints("perm") ?? Array((0..<x.shape.count).reversed())
            result = try x.transposed(perm, node: a)
        case "ScatterND":
            guard values.count == 3 else { throw a.fail("needs data, indices and updates") }
            guard (try a.string("reduction") ?? "none") == "none" else { throw a.fail("only reduction 'none' is folded") }
            result = try x.scatterND(values[1], values[2], node: a)
        case "MatMul":
            guard values.count == 2 else { throw a.fail("needs two inputs") }
            result = try x.matmul(values[1], cap: min(1 << 24, limits.maxFoldedElements), node: a)
        case "Clip":
            // Bounds: attributes before opset 11, optional inputs 1 and 2 after.
            func bound(_ i: Int, _ attribute: String) throws -> FoldValue? {
                if opset < 11 { return a.has(attribute) ? FoldValue(shape: [], values: [Double(try a.float(attribute, 0))], isFloat: true) : nil }
                return i < ins.count && !ins[i].isEmpty ? constant(ins[i]).map(FoldValue.init) : nil
            }
            var r = x
            if let lo = try bound(1, "min") { r = try FoldValue.binary(r, lo, op: "Max", node: a) }
            if let hi = try bound(2, "max") { r = try FoldValue.binary(r, hi, op: "Min", node: a) }
            r.isFloat = x.isFloat
            result = r
        case "Neg":
            result = FoldValue(shape: x.shape, values: x.values.map { -$0 }, isFloat: x.isFloat)
        case "Sqrt":
            result = FoldValue(shape: x.shape, values: x.values.map { Double(Float($0).squareRoot()) }, isFloat: true)
        case "Reciprocal":
            result = FoldValue(shape: x.shape, values: x.values.map { Double(1 / Float($0)) }, isFloat: true)
        case "Where":
            guard values.count == 3 else { throw a.fail("needs a condition and two values") }
            result = try FoldValue.select(x, values[1], values[2], cap: min(1 << 24, limits.maxFoldedElements), node: a)
        case "Expand":
            guard values.count == 2 else { throw a.fail("needs a shape") }
            let dims = try values[1].ints("shape", node: a)
            guard let target = Shape.broadcast([x.shape, dims]), let n = Shape.elementCount(target),
                  n <= min(1 << 24, limits.maxFoldedElements) else {
                throw a.fail("cannot expand \(x.shape) to \(dims)")
            }
            result = try FoldValue.binary(x, FoldValue(shape: target, values: [Double](repeating: 0, count: n), isFloat: x.isFloat),
                                          op: "Add", node: a)
        case "Range":
            guard values.count == 3, let start = x.values.first, let limit = values[1].values.first,
                  let delta = values[2].values.first, delta != 0 else { throw a.fail("needs start, limit and a non-zero delta") }
            let span = ((limit - start) / delta).rounded(.up)  // a double from the file: checked before Int()
            guard span.isFinite || span < 0, span <= Double(min(1 << 24, limits.maxFoldedElements)) else {
                throw a.fail("a range of \(span) values")
            }
            let count = span.isFinite ? max(Int(span), 0) : 0
            result = FoldValue(shape: [count], values: (0..<count).map { start + Double($0) * delta }, isFloat: x.isFloat)
        default: // Add, Sub, Mul, Div, Mod, Pow, Equal, comparisons, logic, Max, Min
            guard values.count == 2 else { throw a.fail("needs two inputs") }
            result = try FoldValue.binary(x, values[1], op: op, node: a)
        }
        constants[out] = try result.constant()
        return true
    }

    private func constantAttribute(_ a: ONNXAttributes) throws -> ONNXConstant {
        if let t = try a.tensor("value") { return try t.constant(modelDirectory: nil, limits: .default) }
        if a.has("value_float") { return .floats(try Tensor(shape: [], values: [try a.float("value_float", 0)])) }
        if let v = try a.floats("value_floats") { return .floats(try Tensor(shape: [v.count], values: v)) }
        if a.has("value_int") { return .ints(shape: [], values: [try a.int("value_int", 0)]) }
        if let v = try a.ints("value_ints") { return .ints(shape: [v.count], values: v) }
        throw SRError.unsupported("node '\(a.node)' (Constant): only tensor, float and int values are supported")
    }
}

/// A small constant during folding: values as doubles, which hold every int64 shape
/// value and every float32 exactly.
struct FoldValue {
    var shape: [Int]
    var values: [Double]
    var isFloat: Bool

    init(shape: [Int], values: [Double], isFloat: Bool) {
        self.shape = shape; self.values = values; self.isFloat = isFloat
    }

    init(_ c: ONNXConstant) {
        switch c {
        case .floats(let t): self.init(shape: t.shape, values: t.values.map(Double.init), isFloat: true)
        case .ints(let s, let v): self.init(shape: s, values: v.map(Double.init), isFloat: false)
        }
    }

    func constant() throws -> ONNXConstant {
        guard Shape.elementCount(shape) == values.count else {
            throw SRError.malformed("folded constant of shape \(shape) has \(values.count) values")
        }
        if isFloat { return .floats(try Tensor(shape: shape, values: values.map { Float($0) })) }
        return .ints(shape: shape, values: values.map { v in v.isFinite && abs(v) < 9.2e18 ? Int(v) : 0 })
    }

    /// The values as integers (shapes, axes): each must be integral and within ±2^53.
    func ints(_ what: String, node a: ONNXAttributes) throws -> [Int] {
        try values.map { v in
            guard v.isFinite, v == v.rounded(), abs(v) <= 0x1p53 else { throw a.fail("\(what) value \(v) is not an integer") }
            return Int(v)
        }
    }

    static func strides(_ s: [Int]) -> [Int] {
        var st = [Int](repeating: 1, count: s.count)
        for i in stride(from: s.count - 2, through: 0, by: -1) { st[i] = st[i + 1] * s[i + 1] }
        return st
    }

    func gather(_ idx: FoldValue, axis rawAxis: Int, node a: ONNXAttributes) throws -> FoldValue {
        let axis = rawAxis < 0 ? rawAxis + shape.count : rawAxis
        guard axis >= 0, axis < shape.count else { throw a.fail("gather axis \(rawAxis) out of range") }
        let n = shape[axis]
        let outer = shape.prefix(axis).reduce(1, *), inner = shape.suffix(from: axis + 1).reduce(1, *)
        var out: [Double] = []
        for o in 0..<outer {
            for i in idx.values {
                guard i.isFinite, i == i.rounded(), abs(i) <= Double(n) else { throw a.fail("gather index \(i) out of range") }
                var k = Int(i)
                if k < 0 { k += n }
                guard k >= 0, k < n else { throw a.fail("gather index \(i) out of range") }
                out.append(contentsOf: values[(o * n + k) * inner ..< (o * n + k + 1) * inner])
            }
        }
        return FoldValue(shape: Array(shape.prefix(axis)) + idx.shape + Array(shape.suffix(from: axis + 1)),
                         values: out, isFloat: isFloat)
    }

    static func concat(_ parts: [FoldValue], axis: Int, node a: ONNXAttributes) throws -> FoldValue {
        guard let first = parts.first, axis >= 0, axis < first.shape.count else { throw a.fail("bad concat axis \(axis)") }
        let outer = first.shape.prefix(axis).reduce(1, *)
        var shape = first.shape
        shape[axis] = 0
        for p in parts {
            guard p.shape.count == first.shape.count,
                  p.shape.indices.allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
                throw a.fail("concat of shapes \(parts.map(\.shape)) on axis \(axis)")
            }
            shape[axis] += p.shape[axis]
        }
        var out: [Double] = []
        for o in 0..<outer {
            for p in parts {
                let chunk = p.shape.suffix(from: axis).reduce(1, *)
                out.append(contentsOf: p.values[o * chunk ..< (o + 1) * chunk])
            }
        }
        return FoldValue(shape: shape, values: out, isFloat: parts.contains { $0.isFloat })
    }

    func slice(_ inputs: [FoldValue], attributes a: ONNXAttributes, opset: Int) throws -> FoldValue {
        let starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if opset < 10 {
            starts = try a.ints("starts") ?? []; ends = try a.ints("ends") ?? []; axes = try a.ints("axes"); steps = nil
        } else {
            guard inputs.count >= 3 else { throw a.fail("needs starts and ends") }
            starts = inputs[1].values.map { Int(max(min($0, 9e18), -9e18)) }
            ends = inputs[2].values.map { Int(max(min($0, 9e18), -9e18)) }
            axes = inputs.count > 3 ? try inputs[3].ints("axes", node: a) : nil
            steps = inputs.count > 4 ? try inputs[4].ints("steps", node: a) : nil
        }
        let rank = shape.count
        guard rank <= 64 else { throw SRError.unsupported("node '\(a.node)' (Slice): a rank-\(rank) constant") }
        let axisList = (axes ?? Array(0..<starts.count)).map { $0 < 0 ? $0 + rank : $0 }
        let stepList = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axisList.count == starts.count, stepList.count == starts.count,
              axisList.allSatisfy({ $0 >= 0 && $0 < rank }), Set(axisList).count == axisList.count, !stepList.contains(0) else {
            throw a.fail("bad starts \(starts), ends \(ends), axes \(axes ?? []) or steps \(steps ?? []) for shape \(shape)")
        }
        // Per axis, the indices taken (ONNX clamping: [0, n] forwards, [-1, n-1] backwards).
        var taken = shape.map { Array(0..<$0) }
        for (k, axis) in axisList.enumerated() {
            let n = shape[axis], step = stepList[k]
            func resolved(_ v: Int) -> Int { v < 0 ? v + n : v }
            if step > 0 {
                let b = min(max(resolved(starts[k]), 0), n), e = min(max(resolved(ends[k]), 0), n)
                taken[axis] = b < e ? Array(stride(from: b, to: e, by: step)) : []
            } else {
                let b = min(max(resolved(starts[k]), -1), n - 1), e = min(max(resolved(ends[k]), -1), n - 1)
                taken[axis] = b > e ? Array(stride(from: b, to: e, by: step)) : []
            }
        }
        let outShape = taken.map(\.count)
        let st = FoldValue.strides(shape)
        var out: [Double] = []
        out.reserveCapacity(outShape.reduce(1, *))
        func walk(_ d: Int, _ offset: Int) {
            if d == rank { out.append(values[offset]); return }
            for i in taken[d] { walk(d + 1, offset + i * st[d]) }
        }
        if !outShape.contains(0) { walk(0, 0) }
        return FoldValue(shape: outShape, values: out, isFloat: isFloat)
    }

    static func binary(_ x: FoldValue, _ y: FoldValue, op: String, node a: ONNXAttributes) throws -> FoldValue {
        guard let shape = Shape.broadcast([x.shape, y.shape]), let n = Shape.elementCount(shape) else {
            throw a.fail("constants of shapes \(x.shape) and \(y.shape) do not broadcast")
        }
        let logical: Set<String> = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"]
        let isFloat = !logical.contains(op) && (x.isFloat || y.isFloat)
        let ox = strides(shape), sx = broadcastStrides(x.shape, to: shape), sy = broadcastStrides(y.shape, to: shape)
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let at = sourceOffsets(of: i, strides: ox, operands: [sx, sy])
            let u = x.values[at[0]], v = y.values[at[1]]
            switch op {
            case "Add": out[i] = u + v
            case "Sub": out[i] = u - v
            case "Mul": out[i] = u * v
            case "Equal": out[i] = u == v ? 1 : 0
            case "Less": out[i] = u < v ? 1 : 0
            case "Greater": out[i] = u > v ? 1 : 0
            case "LessOrEqual": out[i] = u <= v ? 1 : 0
            case "GreaterOrEqual": out[i] = u >= v ? 1 : 0
            case "And": out[i] = u != 0 && v != 0 ? 1 : 0
            case "Or": out[i] = u != 0 || v != 0 ? 1 : 0
            case "Xor": out[i] = (u != 0) != (v != 0) ? 1 : 0
            case "Max": out[i] = u.isNaN || v.isNaN ? .nan : Swift.max(u, v)
            case "Min": out[i] = u.isNaN || v.isNaN ? .nan : Swift.min(u, v)
            case "Pow": out[i] = isFloat ? Double(Foundation.pow(Float(u), Float(v))) : Foundation.pow(u, v).rounded(.towardZero)
            case "Mod":
                // ONNX Mod: fmod = 0 takes the divisor's sign (Python's %), floats need fmod = 1.
                guard v != 0 else { throw a.fail("modulo by zero") }
                out[i] = isFloat ? u.truncatingRemainder(dividingBy: v) : u - v * (u / v).rounded(.down)
            default:
                if isFloat { out[i] = u / v } else {
                    guard v != 0 else { throw a.fail("integer division by zero") }
                    out[i] = (u / v).rounded(.down)
                }
            }
        }
        return FoldValue(shape: shape, values: out, isFloat: isFloat)
    }

    /// ONNX Where: `c ? x : y`, broadcasting all three.
    static func select(_ c: FoldValue, _ x: FoldValue, _ y: FoldValue, cap: Int, node a: ONNXAttributes) throws -> FoldValue {
        guard let shape = Shape.broadcast([c.shape, x.shape, y.shape]), let n = Shape.elementCount(shape), n <= cap else {
            throw a.fail("shapes \(c.shape), \(x.shape), \(y.shape) do not broadcast")
        }
        let o = strides(shape), sc = broadcastStrides(c.shape, to: shape)
        let sx = broadcastStrides(x.shape, to: shape), sy = broadcastStrides(y.shape, to: shape)
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let at = sourceOffsets(of: i, strides: o, operands: [sc, sx, sy])
            out[i] = c.values[at[0]] != 0 ? x.values[at[1]] : y.values[at[2]]
        }
        return FoldValue(shape: shape, values: out, isFloat: x.isFloat || y.isFloat)
    }

    /// Where element `i` of a tensor with row-major `strides` reads each operand, given the
    /// operand's strides over the same axes (`broadcastStrides`, 0 where it broadcasts).
    static func sourceOffsets(of i: Int, strides: [Int], operands: [[Int]]) -> [Int] {
        var r = i
        var offsets = [Int](repeating: 0, count: operands.count)
        for d in strides.indices {
            let q = r / strides[d]; r -= q * strides[d]
            for k in operands.indices { offsets[k] += q * operands[k][d] }
        }
        return offsets
    }

    static func broadcastStrides(_ s: [Int], to shape: [Int]) -> [Int] {
        let own = strides(s)
        let off = shape.count - s.count
        return (0..<shape.count).map { d in d < off || s[d - off] == 1 ? 0 : own[d - off] }
    }
}
