/// Shape arithmetic with overflow checks: shapes come from files and must never trap.
public enum Shape {
    /// Product of the dims, or nil when a dim is negative or the product overflows.
    public static func elementCount(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// Byte count of `dims` elements of `elementSize` bytes, or nil on overflow.
    public static func byteCount(_ dims: [Int], elementSize: Int) -> Int? {
        guard let n = elementCount(dims) else { return nil }
        let (b, o) = n.multipliedReportingOverflow(by: elementSize)
        return o ? nil : b
    }

    /// Numpy-style broadcast of several shapes (right-aligned), or nil if incompatible.
    public static func broadcast(_ shapes: [[Int]]) -> [Int]? {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            let off = rank - s.count
            for (i, d) in s.enumerated() {
                let j = off + i
                if out[j] == 1 { out[j] = d } else if d != 1 && d != out[j] { return nil }
            }
        }
        return out
    }

    /// Output length of a convolution along one axis.
    public static func convOutput(_ input: Int, kernel: Int, stride: Int, padBegin: Int,
                                  padEnd: Int, dilation: Int) -> Int? {
        // Below 2^31 each, no sum or product here can overflow; no real layer comes near.
        guard [input, kernel, stride, padBegin, padEnd, dilation].allSatisfy({ $0 < 1 << 31 }) else { return nil }
        let span = input + padBegin + padEnd - dilation * (kernel - 1) - 1
        guard span >= 0, stride > 0 else { return nil }
        return span / stride + 1
    }

    /// Output length of a pooling window along one axis. With `ceil`, rounds up as Caffe
    /// and ONNX `ceil_mode` do, then drops a last window that would start in the end
    /// padding (`(out − 1)·s ≥ input + padBegin`), as Caffe, PyTorch and onnxruntime do.
    public static func poolOutput(_ input: Int, kernel: Int, stride: Int, padBegin: Int,
                                  padEnd: Int, ceil: Bool) -> Int? {
        guard [input, kernel, stride, padBegin, padEnd].allSatisfy({ $0 < 1 << 31 }) else { return nil }
        let span = input + padBegin + padEnd - kernel
        guard span >= 0, stride > 0 else { return nil }
        var out = (ceil ? (span + stride - 1) / stride : span / stride) + 1
        if ceil && (out - 1) * stride >= input + padBegin { out -= 1 }
        return out
    }
}
