/// A dense float32 tensor: NCHW for feature maps, `[out, in]` for linear weights, OIHW
/// for convolution weights. Tensors share storage when reshaped; a kernel writes only
/// into tensors it has just created.
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let storage: TensorStorage

    /// A zero tensor. `shape` must already have been checked (see `Shape.elementCount`).
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor with undefined contents, for kernels that write every element.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
    }

    public init(shape: [Int], values: [Float]) throws {
        guard let n = Shape.elementCount(shape), n == values.count else {
            throw SRError.usage("tensor of shape \(shape) cannot hold \(values.count) values")
        }
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { storage.base.update(from: s, count: n) }
        }
    }

    public init(shape: [Int], storage: TensorStorage) throws {
        guard let n = Shape.elementCount(shape), n <= storage.count else {
            throw SRError.internalError("tensor of shape \(shape) does not fit its storage of \(storage.count)")
        }
        self.shape = shape
        self.storage = storage
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    /// Writable base pointer; only for tensors the caller created.
    public var pointer: UnsafeMutablePointer<Float> { storage.base }
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: storage.base, count: count) }
    public var values: [Float] { Array(buffer) }

    /// The same data viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard Shape.elementCount(newShape) == count else {
            throw SRError.internalError("cannot reshape \(shape) to \(newShape)")
        }
        return try Tensor(shape: newShape, storage: storage)
    }

    /// Image `n` of a batch (shares storage when n == 0, copies otherwise).
    public func sample(_ n: Int) -> Tensor {
        let per = shape.dropFirst().reduce(1, *)
        let t = Tensor(zeros: [1] + shape.dropFirst())
        t.pointer.update(from: storage.base + n * per, count: per)
        return t
    }

    /// Stacks tensors of equal shape `[1, ...]` along the batch axis.
    public static func stack(_ items: [Tensor]) throws -> Tensor {
        guard let first = items.first else { throw SRError.usage("nothing to stack") }
        let per = first.count
        for t in items where t.shape != first.shape {
            throw SRError.usage("cannot stack tensors of shapes \(first.shape) and \(t.shape)")
        }
        let out = Tensor(zeros: [items.count] + first.shape.dropFirst())
        for (i, t) in items.enumerated() { (out.pointer + i * per).update(from: t.storage.base, count: per) }
        return out
    }
}
