import Foundation

/// The fields of a protobuf message, read one at a time without decoding it: each field's
/// number, wire type, and where its bytes and its payload lie. ONNX's sniffing checks a
/// file's first fields with it, and `ONNXModelDecoding` finds a model's graph and
/// initializers.
struct ProtobufFields {
    struct Field {
        let number: UInt64
        let wire: UInt64
        /// The field's bytes, its tag included, as offsets into the buffer.
        let whole: Range<Int>
        /// A length-delimited field's contents; any other field's value bytes.
        let payload: Range<Int>

        var delimited: Bool { wire == 2 }
    }

    enum Step {
        case field(Field)
        /// Every field read, up to the range's end.
        case end
        /// The bytes stop inside a field (or a varint runs past ten bytes).
        case truncated
        /// A group or an unknown wire type.
        case invalid
    }

    private let bytes: UnsafeRawBufferPointer
    private let end: Int
    private var i: Int

    /// The fields in `range` of `bytes`.
    init(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) {
        self.bytes = bytes
        end = range.upperBound
        i = range.lowerBound
    }

    mutating func next() -> Step {
        guard i < end else { return .end }
        let start = i
        guard let tag = varint() else { return .truncated }
        let wire = tag & 7
        var payload = i
        switch wire {
        case 0:
            guard varint() != nil else { return .truncated }
        case 1, 5:
            let n = wire == 1 ? 8 : 4
            guard end - i >= n else { return .truncated }
            i += n
        case 2:
            guard let n = varint(), n <= UInt64(end - i) else { return .truncated }
            payload = i
            i += Int(n)
        default:
            return .invalid
        }
        return .field(Field(number: tag >> 3, wire: wire, whole: start..<i, payload: payload..<i))
    }

    /// Every field of the range; nil unless the fields fill it exactly.
    static func all(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> [Field]? {
        var scan = ProtobufFields(bytes, in: range)
        var out: [Field] = []
        while true {
            switch scan.next() {
            case .field(let f): out.append(f)
            case .end: return out
            case .truncated, .invalid: return nil
            }
        }
    }

    private mutating func varint() -> UInt64? {
        var v: UInt64 = 0, shift: UInt64 = 0
        while i < end, shift < 64 {
            let byte = bytes[i]
            i += 1
            v |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return v }
            shift += 7
        }
        return nil
    }
}
