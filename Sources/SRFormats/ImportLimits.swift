import SRCore

/// Caps applied while importing, before anything is allocated: a hostile file cannot make
/// srtool allocate without bound. Defaults fit every real CNN (VGG-16's largest tensor
/// has 103 M elements).
public struct ImportLimits: Sendable, Codable {
    /// Largest element count of one tensor.
    public var maxTensorElements: Int
    /// Largest number of nodes in a graph.
    public var maxNodes: Int
    /// Largest total element count of the constants an ONNX file asks srtool to build
    /// (ConstantOfShape): no byte of the file backs them. 2^28 float32 values (1 GiB) holds
    /// the onnx wheel's light VGG-19 (123 M elements).
    public var maxFoldedElements: Int

    public init(maxTensorElements: Int = 1 << 31, maxNodes: Int = 100_000, maxFoldedElements: Int = 1 << 28) {
        self.maxTensorElements = maxTensorElements
        self.maxNodes = maxNodes
        self.maxFoldedElements = maxFoldedElements
    }

    public static let `default` = ImportLimits()

    func check(elements: Int, what: String) throws {
        guard elements <= maxTensorElements else {
            throw SRError.malformed("\(what): \(elements) elements exceed the limit of \(maxTensorElements)")
        }
    }

    /// The element count of a tensor of `shape` stored as `present` units (bytes, or
    /// values of a typed field) of which each element takes `unitsPerElement`: the shape
    /// must not overflow, must be within the cap, and must match the data present. Every
    /// reader calls this before it allocates the tensor.
    func payload(_ shape: [Int], unitsPerElement: Int, present: Int, unit: String, what: String) throws -> Int {
        guard let count = Shape.elementCount(shape), let needed = Shape.byteCount(shape, elementSize: unitsPerElement) else {
            throw SRError.malformed("\(what): dimensions \(shape) overflow")
        }
        try check(elements: count, what: what)
        guard present == needed else {
            throw SRError.malformed("\(what): \(present) \(unit) for shape \(shape) (want \(needed))")
        }
        return count
    }

    func check(nodes: Int) throws {
        guard nodes <= maxNodes else {
            throw SRError.malformed("graph has \(nodes) nodes, more than the limit of \(maxNodes)")
        }
    }
}
