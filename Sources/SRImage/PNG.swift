import CPNG
import Foundation
import SRCore

/// The only file that calls libpng, through its simplified API (`png_image_*`).
public enum PNG {
    /// Decodes any PNG to 8-bit RGB (`png_image_begin_read_from_memory` /
    /// `png_image_finish_read` as RGBA, then the alpha is dropped as PIL's `convert("RGB")` does).
    public static func decode(_ data: Data, name: String) throws -> RGBImage {
        var image = png_image()
        image.version = srpng_version()
        let ok = data.withUnsafeBytes { raw in png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) }
        guard ok != 0 else { throw SRError.malformed("\(name): not a valid PNG (\(message(&image)))") }
        defer { png_image_free(&image) }
        let (w, h) = (Int(image.width), Int(image.height))
        guard w >= 1, h >= 1, w * h <= RGBImage.maxPixels else {
            throw SRError.malformed("\(name): PNG of \(w)×\(h) pixels is too large")
        }
        image.format = srpng_format_rgba()
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        let done = data.withUnsafeBytes { _ in
            rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * 4), nil) }
        }
        guard done != 0 else { throw SRError.malformed("\(name): corrupt PNG (\(message(&image)))") }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            rgb[i * 3] = rgba[i * 4]; rgb[i * 3 + 1] = rgba[i * 4 + 1]; rgb[i * 3 + 2] = rgba[i * 4 + 2]
        }
        return RGBImage(width: w, height: h, pixels: rgb)
    }

    /// Encodes 8-bit RGB (`channels` 3) or RGBA (4) pixels (`png_image_write_to_memory`).
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws -> Data {
        var image = png_image()
        image.version = srpng_version()
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = channels == 4 ? srpng_format_rgba() : srpng_format_rgb()
        var size: Int = 0
        let stride = Int32(width * channels)
        guard pixels.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }) != 0 else {
            throw SRError.internalError("PNG encoding failed: \(message(&image))")
        }
        var out = Data(count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard ok != 0 else { throw SRError.internalError("PNG encoding failed: \(message(&image))") }
        return out.prefix(size)
    }

    public static func write(_ image: RGBImage, to path: String) throws {
        try AtomicFile.write(try encode(width: image.width, height: image.height, channels: 3, pixels: image.pixels), to: path)
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
