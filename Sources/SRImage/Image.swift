import Foundation
import SRCore

/// An 8-bit RGB image, rows top to bottom, pixels interleaved `RGBRGB…`.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// Largest image srtool decodes (a decompression bomb guard): 2^28 pixels.
    public static let maxPixels = 1 << 28

    /// Decodes PNG or JPEG, detected from the first bytes.
    public static func read(path: String) throws -> RGBImage {
        try decode(try InputFile.read(path), name: path)
    }

    /// Decodes PNG or JPEG bytes; `name` says where they came from in errors.
    public static func decode(_ data: Data, name: String) throws -> RGBImage {
        if data.starts(with: [0x89, 0x50, 0x4e, 0x47]) { return try PNG.decode(data, name: name) }
        if data.starts(with: [0xff, 0xd8, 0xff]) { return try JPEG.decode(data, name: name) }
        throw SRError.malformed("\(name): not a PNG or JPEG image")
    }

    /// Writes PNG or JPEG, chosen by the file's extension (`.jpg`, `.jpeg`: JPEG at quality 95).
    public func write(to path: String) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
            try AtomicFile.write(try JPEG.encode(self), to: path)
        } else {
            try PNG.write(self, to: path)
        }
    }

    /// The `(x, y)` pixel's channel `c`.
    @inline(__always) public func at(_ x: Int, _ y: Int, _ c: Int) -> UInt8 { pixels[(y * width + x) * 3 + c] }

    /// The rectangle `[x, x + w) × [y, y + h)`, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for row in 0..<h {
            let src = ((y + row) * width + x) * 3
            out[(row * w * 3)..<((row + 1) * w * 3)] = pixels[src..<(src + w * 3)]
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
