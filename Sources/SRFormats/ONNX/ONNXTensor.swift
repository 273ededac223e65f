import Foundation
import SRCore

/// A constant known at import time: a float tensor (weights, float constants) or an
/// integer tensor (shapes, axes, indices). Shape arithmetic is done on these and folded.
enum ONNXConstant {
    case floats(Tensor)
    case ints(shape: [Int], values: [Int])

    var shape: [Int] {
        switch self {
        case .floats(let t): t.shape
        case .ints(let s, _): s
        }
    }

    var count: Int { shape.reduce(1, *) }

    /// Values as integers (floats must be integral).
    func intValues(_ what: String) throws -> [Int] {
        switch self {
        case .ints(_, let v): return v
        case .floats(let t):
            return try t.values.map { f in
                guard f.isFinite, f == f.rounded(), abs(f) < 1e15 else {
                    throw SRError.malformed("\(what): expected integers, found \(f)")
                }
                return Int(f)
            }
        }
    }

    func floatValues() -> [Float] {
        switch self {
        case .floats(let t): t.values
        case .ints(_, let v): v.map(Float.init)
        }
    }

    func floatTensor(_ what: String) throws -> Tensor {
        switch self {
        case .floats(let t): return t
        case .ints(let s, let v): return try Tensor(shape: s, values: v.map(Float.init))
        }
    }
}

extension Onnx_TensorProto {
    /// Decodes the tensor's data (raw, typed fields or external file) into a constant.
    /// Every length is checked against the bytes present before allocating. `rawInFile`:
    /// the `raw_data` the decoder left in the model file (`ONNXModelDecoding.RawData`); float
    /// data is read from there into the tensor with `pread`, never through the map.
    func constant(modelDirectory: URL?, limits: ImportLimits,
                  rawInFile: (file: MappedFile, range: Range<Int>)? = nil) throws -> ONNXConstant {
        let what = "initializer '\(name)'"
        var shape: [Int] = []
        for d in dims {
            guard d >= 0, d <= Int64(Int.max) else { throw SRError.malformed("\(what): negative dimension \(d)") }
            shape.append(Int(d))
        }
        guard let type = DataType(rawValue: Int(dataType)) else {
            throw SRError.unsupported("\(what): unknown data type \(dataType)")
        }
        if dataLocation != .external, let (file, range) = rawInFile, type == .float {
            let count = try limits.payload(shape, unitsPerElement: 4, present: range.count, unit: "bytes of \(type) data",
                                           what: what)
            let t = Tensor(uninitialized: shape)
            try file.read(range.lowerBound..<(range.lowerBound + count * 4), into: t.pointer)
            littleEndianFix(t)
            return .floats(t)
        }
        let raw: Data?
        if dataLocation == .external {
            raw = try externalBytes(modelDirectory: modelDirectory, what: what)
        } else if let (file, range) = rawInFile {
            // Other types, left in the file too: copied out of the map.
            raw = Data(file.bytes[range])
        } else {
            raw = rawData.isEmpty ? nil : rawData
        }
        // Bytes per element in raw_data, and the typed field holding the values otherwise
        // (float16, int8…int32 and bool live in int32_data, one per element).
        let size: Int, typed: Int
        switch type {
        case .float: (size, typed) = (4, floatData.count)
        case .double: (size, typed) = (8, doubleData.count)
        case .int64: (size, typed) = (8, int64Data.count)
        case .float16, .int16, .uint16: (size, typed) = (2, int32Data.count)
        case .int32: (size, typed) = (4, int32Data.count)
        case .int8, .uint8, .bool: (size, typed) = (1, int32Data.count)
        default: throw SRError.unsupported("\(what): data type \(type) is not supported")
        }
        // The data present is checked against the shape before anything is allocated.
        let count = try raw.map { try limits.payload(shape, unitsPerElement: size, present: $0.count, unit: "bytes of \(type) data", what: what) }
            ?? limits.payload(shape, unitsPerElement: 1, present: typed, unit: "values", what: what)
        switch type {
        case .float:
            let t = Tensor(uninitialized: shape)
            if let raw {
                raw.withUnsafeBytes { src in
                    let dst = UnsafeMutableRawBufferPointer(start: t.pointer, count: count * 4)
                    dst.copyMemory(from: src)
                }
                littleEndianFix(t)
            } else {
                floatData.withUnsafeBufferPointer { if let b = $0.baseAddress { t.pointer.update(from: b, count: count) } }
            }
            return .floats(t)
        case .double:
            let t = Tensor(uninitialized: shape)
            if let raw {
                raw.withUnsafeBytes { src in
                    for i in 0..<count {
                        t.pointer[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                    }
                }
            } else {
                for i in 0..<count { t.pointer[i] = Float(doubleData[i]) }
            }
            return .floats(t)
        case .float16:
            let t = Tensor(uninitialized: shape)
            if let raw {
                raw.withUnsafeBytes { src in
                    for i in 0..<count {
                        t.pointer[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                    }
                }
            } else {
                for i in 0..<count { t.pointer[i] = halfToFloat(UInt16(truncatingIfNeeded: int32Data[i])) }
            }
            return .floats(t)
        case .int64:
            if let raw {
                let v = raw.withUnsafeBytes { src in
                    (0..<count).map { Int(Int64(littleEndian: src.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
                }
                return .ints(shape: shape, values: v)
            }
            return .ints(shape: shape, values: int64Data.map { Int($0) })
        default:
            if let raw {
                let v: [Int] = raw.withUnsafeBytes { src in
                    (0..<count).map { i in
                        switch type {
                        case .int32: Int(Int32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                        case .int16: Int(Int16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
                        case .uint16: Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                        case .int8: Int(src.load(fromByteOffset: i, as: Int8.self))
                        default: Int(src.load(fromByteOffset: i, as: UInt8.self))
                        }
                    }
                }
                return .ints(shape: shape, values: v)
            }
            return .ints(shape: shape, values: int32Data.map { Int($0) })
        }
    }

    /// The bytes of an external-data tensor: `location` relative to the model's folder,
    /// optional `offset` and `length`.
    private func externalBytes(modelDirectory: URL?, what: String) throws -> Data {
        var entries: [String: String] = [:]
        for e in externalData { entries[e.key] = e.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw SRError.malformed("\(what): external data without a location")
        }
        guard let dir = modelDirectory else {
            throw SRError.unsupported("\(what): external data needs the model's folder")
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw SRError.malformed("\(what): external data location '\(location)' leaves the model's folder")
        }
        let offset = try entries["offset"].map { s -> Int in
            guard let v = Int(s), v >= 0 else { throw SRError.malformed("\(what): bad external offset '\(s)'") }
            return v
        } ?? 0
        let length = try entries["length"].map { s -> Int in
            guard let v = Int(s), v >= 0 else { throw SRError.malformed("\(what): bad external length '\(s)'") }
            return v
        }
        let url = dir.appendingPathComponent(location)
        try InputFile.checkRegular(url.path)
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw SRError.missing("\(what): cannot open external data file '\(url.path)'")
        }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        let n = length ?? (size - offset)
        guard offset <= size, n >= 0, n <= size - offset else {
            throw SRError.malformed("\(what): external data [\(offset), +\(n)) lies outside '\(location)' (\(size) bytes)")
        }
        try handle.seek(toOffset: UInt64(offset))
        return try handle.read(upToCount: n) ?? Data()
    }
}

/// ONNX raw data is little-endian; so is every machine srtool runs on.
@inline(__always) private func littleEndianFix(_ t: Tensor) {
    #if _endian(big)
    for i in 0..<t.count { t.pointer[i] = Float(bitPattern: UInt32(littleEndian: t.pointer[i].bitPattern)) }
    #endif
}

/// IEEE 754 half → single precision.
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exp = Int((h >> 10) & 0x1f)
    let mant = UInt32(h & 0x3ff)
    if exp == 0 {
        let v = Float(mant) * Float(bitPattern: 0x3380_0000) // 2^-24
        return sign == 0 ? v : -v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
}
