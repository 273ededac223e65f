import Foundation
import SRCore

/// NumPy `.npy` files (format versions 1–3): read float32, float64 and uint8 C-order
/// arrays as float32 tensors; write float32.
public enum NPY {
    public static func read(path: String, limits: ImportLimits = .default) throws -> Tensor {
        let data = try InputFile.read(path)
        return try read(data, name: path, limits: limits)
    }

    public static func read(_ data: Data, name: String, limits: ImportLimits = .default) throws -> Tensor {
        func bad(_ why: String) -> SRError { .malformed("\(name): not a valid .npy file: \(why)") }
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[1...5].elementsEqual("NUMPY".utf8) else { throw bad("no NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; headerStart = 12
        default:
            throw SRError.unsupported("\(name): .npy format version \(major) is not supported")
        }
        guard headerStart + headerLength <= data.count else { throw bad("header runs past the end of the file") }
        let header = String(decoding: data[data.startIndex + headerStart ..< data.startIndex + headerStart + headerLength], as: UTF8.self)
        guard let descr = field(header, "descr"), let fortran = field(header, "fortran_order"),
              let shapeText = field(header, "shape") else { throw bad("header lacks descr/fortran_order/shape") }
        guard fortran == "False" else { throw SRError.unsupported("\(name): Fortran-order arrays are not supported") }
        let shape = try shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { s -> Int in
                guard let v = Int(s), v >= 0 else { throw bad("bad shape \(shapeText)") }
                return v
            }
        let dtype = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        let size: Int
        switch dtype {
        case "<f4", "|f4", "=f4": size = 4
        case "<f8", "=f8": size = 8
        case "|u1": size = 1
        default: throw SRError.unsupported("\(name): dtype \(dtype) is not supported (float32, float64 or uint8, little-endian)")
        }
        let start = headerStart + headerLength
        let count = try limits.payload(shape, unitsPerElement: size, present: data.count - start, unit: "data bytes", what: name)
        let byteCount = count * size
        let t = Tensor(uninitialized: shape)
        data.withUnsafeBytes { raw in
            let src = UnsafeRawBufferPointer(rebasing: raw[start...])
            if size == 4 {
                UnsafeMutableRawBufferPointer(start: t.pointer, count: byteCount).copyMemory(from: src)
            } else if size == 1 {
                for i in 0..<count { t.pointer[i] = Float(src[i]) }
            } else {
                for i in 0..<count { t.pointer[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
            }
        }
        return t
    }

    /// The value of `key` in a Python dict literal header (`'key': value`).
    private static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
        let rest = header[r.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return String(rest[..<end]).trimmingCharacters(in: .whitespaces)
    }

    /// The `.npy` header (format 1.0, float32, C order), padded to 64 bytes.
    static func header(_ t: Tensor) -> Data {
        let dims = t.shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)\(t.shape.count == 1 ? "," : "")), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = header.utf8.count
        data.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data
    }

    /// The whole file in memory (small tensors).
    public static func encode(_ t: Tensor) -> Data {
        header(t) + Data(bytes: t.pointer, count: t.count * 4)
    }

    /// Writes the header, then the tensor's memory 16 MiB at a time, in place (no second
    /// copy of a large output).
    public static func write(_ t: Tensor, to path: String) throws {
        try AtomicFile.write(to: path) { handle in
            try handle.write(contentsOf: header(t))
            let bytes = t.count * 4, piece = 16 << 20
            let raw = UnsafeMutableRawPointer(t.pointer)
            for start in stride(from: 0, to: bytes, by: piece) {
                try handle.write(contentsOf: Data(bytesNoCopy: raw + start, count: min(piece, bytes - start), deallocator: .none))
            }
        }
    }
}
