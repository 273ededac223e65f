import SRCore

extension Preprocessing {
    /// Image → `[1, C, H, W]` tensor for an input of `height × width`: resize (Pillow
    /// bilinear) the shorter side as `resizedSize` says, crop
    /// the centre as torchvision's `CenterCrop` does, then convert and normalise.
    public func tensor(from image: RGBImage, height: Int, width: Int, channels: Int) throws -> Tensor {
        let want = grayscale ? 1 : 3
        guard channels == want else {
            throw SRError.usage("the model takes \(channels) input channel(s) but the preprocessing gives \(want) (try --preprocess \(channels == 1 ? "grayscale" : "imagenet"))")
        }
        guard mean.count == want, std.count == want, std.allSatisfy({ $0 != 0 }) else {
            throw SRError.usage("--mean and --std need \(want) value(s) each, std non-zero")
        }
        let img = try croppedImage(from: image, height: height, width: width)
        let t = Tensor(zeros: [1, want, height, width])
        let plane = height * width
        for i in 0..<plane {
            let (r, g, b) = (img.pixels[i * 3], img.pixels[i * 3 + 1], img.pixels[i * 3 + 2])
            if grayscale {
                // PIL convert("L"): L = (R·19595 + G·38470 + B·7471 + 2^15) >> 16
                let l = (Int(r) * 19595 + Int(g) * 38470 + Int(b) * 7471 + 0x8000) >> 16
                t.pointer[i] = (Float(l) * scale - mean[0]) / std[0]
            } else {
                let v = bgr ? [b, g, r] : [r, g, b]
                for c in 0..<3 { t.pointer[c * plane + i] = (Float(v[c]) * scale - mean[c]) / std[c] }
            }
        }
        return t
    }

    /// The image resized and centre-cropped to the input size, before any conversion.
    public func croppedImage(from image: RGBImage, height: Int, width: Int) throws -> RGBImage {
        let (rw, rh) = resizedSize(image.width, image.height, height: height, width: width)
        guard rw >= width, rh >= height else {
            throw SRError.usage("resizing to \(rw)×\(rh) is smaller than the \(width)×\(height) input")
        }
        let resized = Resize.bilinear(image, width: rw, height: rh)
        let (top, left) = cropOffsets(rw, rh, height: height, width: width)
        return resized.cropped(x: left, y: top, width: width, height: height)
    }

    /// Size after the resize step: torchvision `Resize(r)` keeps the aspect ratio with the
    /// shorter side `r` and the longer side truncated. `r` is `resize`, else ⌊min(H, W) /
    /// cropFraction⌋; and at least the smallest `r` with which the image covers the input.
    public func resizedSize(_ w: Int, _ h: Int, height: Int, width: Int) -> (Int, Int) {
        func shorterSide(_ r: Int) -> (Int, Int) {
            w <= h ? (r, Int(Double(r) * Double(h) / Double(w))) : (Int(Double(r) * Double(w) / Double(h)), r)
        }
        if let resize { return shorterSide(resize) }
        var r = min(height, width)
        if let f = cropFraction, f > 0 && f < 1 { r = max(r, Int((Double(r) / f).rounded(.down))) }
        if w == width && h == height && r == min(height, width) { return (w, h) }
        while true {
            let (rw, rh) = shorterSide(r)
            if rw >= width && rh >= height { return (rw, rh) }
            r += 1
        }
    }

    /// Where the network's `height × width` input lies in the original `imageWidth ×
    /// imageHeight` photo, in the photo's pixels (x, y, width, height): the crop mapped back
    /// through the resize.
    public func cropInPhoto(imageWidth: Int, imageHeight: Int, height: Int, width: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        let (rw, rh) = resizedSize(imageWidth, imageHeight, height: height, width: width)
        let (top, left) = cropOffsets(rw, rh, height: height, width: width)
        let sx = Double(imageWidth) / Double(rw), sy = Double(imageHeight) / Double(rh)
        return (Double(left) * sx, Double(top) * sy, Double(width) * sx, Double(height) * sy)
    }

    /// torchvision CenterCrop: offsets round half to even (Python's round).
    func cropOffsets(_ rw: Int, _ rh: Int, height: Int, width: Int) -> (top: Int, left: Int) {
        (Int((Double(rh - height) / 2).rounded(.toNearestOrEven)), Int((Double(rw - width) / 2).rounded(.toNearestOrEven)))
    }
}
