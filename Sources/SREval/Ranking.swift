import SRCore

/// Which pixels go first: the most relevant (MoRF) or the least relevant (LeRF).
public enum Order: String, CaseIterable, Sendable {
    case morf, lerf
}

/// An attribution as the metrics read it: one value per pixel, the signed sum over the
/// channels of an `[N, C, H, W]` map (`[N, 1, H, W]` is taken as it is), as
/// `quantus.explain` returns it and as Quantus' metrics then broadcast it to every channel.
public struct PixelMap: Sendable {
    public let height: Int
    public let width: Int
    /// `[H·W]`, raster order.
    public let values: [Double]

    public init(height: Int, width: Int, values: [Double]) {
        self.height = height; self.width = width; self.values = values
    }

    /// Sample `n` of `[N, C, H, W]`: channels summed in float32 in channel order (numpy's
    /// `a.sum(axis=1)`), then widened.
    public init(_ attribution: Tensor, sample n: Int) {
        let (c, h, w) = (attribution.shape[1], attribution.shape[2], attribution.shape[3])
        let base = attribution.pointer + n * c * h * w
        var v = [Double](repeating: 0, count: h * w)
        for p in 0..<(h * w) {
            var s = base[p]
            for k in 1..<max(c, 1) { s += base[k * h * w + p] }
            v[p] = Double(s)
        }
        self.init(height: h, width: w, values: v)
    }

    /// Pixel indices, most relevant first (morf) or least relevant first (lerf); equal
    /// values in raster order. (Quantus uses numpy's unstable argsort, whose order among
    /// equal values is unspecified.)
    public func ranked(_ order: Order) -> [Int] {
        Self.ranked(values, order)
    }

    static func ranked(_ values: [Double], _ order: Order) -> [Int] {
        values.indices.sorted { i, j in
            let (a, b) = (values[i], values[j])
            if a != b { return order == .morf ? a > b : a < b }
            return i < j
        }
    }
}
