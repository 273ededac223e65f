import SRCore

/// A stack of `channels` planes of `height × width` Doubles, channel-major.
struct Planes {
    var channels: Int
    var height: Int
    var width: Int
    var values: [Double]

    /// Bilinear resampling with half-pixel centres (`Bilinear.resize`).
    func resized(height oh: Int, width ow: Int) -> Planes {
        if oh == height && ow == width { return self }
        var out = [Double](repeating: 0, count: channels * oh * ow)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                Bilinear.resize(s, planes: channels, h: height, w: width, into: d, height: oh, width: ow)
            }
        }
        return Planes(channels: channels, height: oh, width: ow, values: out)
    }
}
