import Foundation

/// A bounds-checked reader of the protobuf wire format over borrowed bytes, for the parts
/// of a caffemodel srtool walks itself (the top-level layer list and the weight blobs,
/// which stay in the memory-mapped file instead of being copied into messages).
struct ProtoWireReader {
    enum Failure: Error { case truncated, malformed(String) }

    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes; offset = range.lowerBound; end = range.upperBound
    }

    var atEnd: Bool { offset >= end }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw Failure.truncated }
            let byte = bytes[offset]; offset += 1
            guard shift < 64 else { throw Failure.malformed("varint longer than 10 bytes") }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// The next field's number and wire type.
    mutating func tag() throws -> (field: Int, wire: Int) {
        let t = try varint()
        let field = t >> 3
        guard field >= 1, field < 1 << 29 else { throw Failure.malformed("field number \(field)") }
        return (Int(field), Int(t & 7))
    }

    /// The byte range of a length-delimited payload, checked against the bytes present.
    mutating func payload() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - offset) else { throw Failure.truncated }
        let range = offset..<(offset + Int(n))
        offset = range.upperBound
        return range
    }

    /// Skips `n` bytes the caller checked are present.
    mutating func skipBytes(_ n: Int) { offset = min(offset + n, end) }

    mutating func fixed32() throws -> UInt32 {
        guard end - offset >= 4 else { throw Failure.truncated }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: v)
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - offset >= 8 else { throw Failure.truncated }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    /// Skips a field's value of wire type `wire`.
    mutating func skip(wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try payload()
        case 5: _ = try fixed32()
        default: throw Failure.malformed("wire type \(wire)")
        }
    }
}
