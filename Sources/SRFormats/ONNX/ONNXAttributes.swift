import SRCore

/// Typed access to a node's attributes; wrong types and bad values name the node.
struct ONNXAttributes {
    let node: String
    let op: String
    private var byName: [String: Onnx_AttributeProto] = [:]

    init(_ proto: Onnx_NodeProto, name: String) {
        node = name
        op = proto.opType
        for a in proto.attribute { byName[a.name] = a }
    }

    func fail(_ why: String) -> SRError { .malformed("node '\(node)' (\(op)): \(why)") }

    func has(_ name: String) -> Bool { byName[name] != nil }

    func int(_ name: String, _ fallback: Int) throws -> Int {
        guard let a = byName[name] else { return fallback }
        guard a.type == .int || (a.type == .undefined && a.i != 0) else { throw fail("attribute '\(name)' must be an int") }
        guard let v = Int(exactly: a.i) else { throw fail("attribute '\(name)' out of range") }
        return v
    }

    func float(_ name: String, _ fallback: Float) throws -> Float {
        guard let a = byName[name] else { return fallback }
        guard a.type == .float || a.type == .undefined else { throw fail("attribute '\(name)' must be a float") }
        return a.f
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let a = byName[name] else { return nil }
        guard a.type == .ints || a.type == .undefined else { throw fail("attribute '\(name)' must be a list of ints") }
        return try a.ints.map { v in
            guard let i = Int(exactly: v), i > -(1 << 40), i < 1 << 40 else { throw fail("attribute '\(name)' value \(v) out of range") }
            return i
        }
    }

    func floats(_ name: String) throws -> [Float]? {
        guard let a = byName[name] else { return nil }
        guard a.type == .floats || a.type == .undefined else { throw fail("attribute '\(name)' must be a list of floats") }
        return a.floats
    }

    func string(_ name: String) throws -> String? {
        guard let a = byName[name] else { return nil }
        guard a.type == .string || a.type == .undefined else { throw fail("attribute '\(name)' must be a string") }
        return String(decoding: a.s, as: UTF8.self)
    }

    func tensor(_ name: String) throws -> Onnx_TensorProto? {
        guard let a = byName[name] else { return nil }
        guard a.type == .tensor || a.type == .undefined else { throw fail("attribute '\(name)' must be a tensor") }
        return a.t
    }
}
