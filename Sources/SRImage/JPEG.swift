import CJPEG
import Foundation
import SRCore

/// The only file that calls TurboJPEG (the `tj*` API of libjpeg-turbo 2.1).
public enum JPEG {
    /// Decodes a baseline or progressive JPEG to 8-bit RGB with the library defaults
    /// (accurate integer DCT, fancy upsampling), as PIL does.
    public static func decode(_ data: Data, name: String) throws -> RGBImage {
        guard let handle = tjInitDecompress() else { throw SRError.internalError("cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = data.withUnsafeBytes { raw in
            tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), &w, &h, &subsampling, &colorspace)
        }
        guard header == 0 else { throw SRError.malformed("\(name): not a valid JPEG (\(errorText(handle)))") }
        guard w >= 1, h >= 1, Int(w) * Int(h) <= RGBImage.maxPixels else {
            throw SRError.malformed("\(name): JPEG of \(w)×\(h) pixels is too large")
        }
        guard colorspace != Int32(TJCS_CMYK.rawValue) && colorspace != Int32(TJCS_YCCK.rawValue) else {
            throw SRError.unsupported("\(name): CMYK JPEG images are not supported")
        }
        var rgb = [UInt8](repeating: 0, count: Int(w) * Int(h) * 3)
        let ok = data.withUnsafeBytes { raw in
            rgb.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), dst.baseAddress,
                              w, 0, h, Int32(TJPF_RGB.rawValue), 0)
            }
        }
        if ok != 0 && tjGetErrorCode(handle) == Int32(TJERR_FATAL.rawValue) {
            throw SRError.malformed("\(name): corrupt JPEG (\(errorText(handle)))")
        }
        return RGBImage(width: Int(w), height: Int(h), pixels: rgb)
    }

    /// Encodes 8-bit RGB at `quality` (1–100) with 4:2:0 chroma subsampling, as PIL's
    /// default `save(..., "JPEG")` does.
    public static func encode(_ image: RGBImage, quality: Int = 95) throws -> Data {
        guard let handle = tjInitCompress() else { throw SRError.internalError("cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let ok = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard ok == 0, let buffer else { throw SRError.internalError("JPEG encoding failed: \(errorText(handle))") }
        return Data(bytes: buffer, count: Int(size))
    }

    private static func errorText(_ handle: tjhandle) -> String {
        guard let s = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: s)
    }
}
