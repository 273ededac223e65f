/// A stack of `channels` planes of `height × width` Doubles, channel-major.
struct Planes {
    var channels: Int
    var height: Int
    var width: Int
    var values: [Double]

    /// Bilinear resampling with half-pixel centres and no antialiasing (torch
    /// `interpolate(mode="bilinear", align_corners=False)`).
    func resized(height oh: Int, width ow: Int) -> Planes {
        if oh == height && ow == width { return self }
        var out = [Double](repeating: 0, count: channels * oh * ow)
        let sy = Double(height) / Double(oh), sx = Double(width) / Double(ow)
        for c in 0..<channels {
            let src = c * height * width, dst = c * oh * ow
            for y in 0..<oh {
                let fy = max((Double(y) + 0.5) * sy - 0.5, 0)
                let y0 = min(Int(fy), height - 1), y1 = min(y0 + 1, height - 1), ay = fy - Double(y0)
                for x in 0..<ow {
                    let fx = max((Double(x) + 0.5) * sx - 0.5, 0)
                    let x0 = min(Int(fx), width - 1), x1 = min(x0 + 1, width - 1), ax = fx - Double(x0)
                    let top = values[src + y0 * width + x0] * (1 - ax) + values[src + y0 * width + x1] * ax
                    let bottom = values[src + y1 * width + x0] * (1 - ax) + values[src + y1 * width + x1] * ax
                    out[dst + y * ow + x] = top * (1 - ay) + bottom * ay
                }
            }
        }
        return Planes(channels: channels, height: oh, width: ow, values: out)
    }
}
