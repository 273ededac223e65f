import Foundation
import SRCore
import SwiftProtobuf

/// Decodes a `ModelProto` from a mapped file with its initializers one at a time, so a large
/// model is not held twice: decoding the whole file at once copies every weight out of the
/// map while the map's pages, touched by the decoder, also count as the process's memory
/// (ViT-B/16's 347 MB file peaked at 752 MB before a layer ran). Here each initializer's
/// `TensorProto` is decoded from its bytes in the map, and the map's pages before it are
/// then released (`MADV_DONTNEED`: a private read-only map refaults them from the file if
/// read again). The other fields of the model and of its graph are decoded together, in
/// their order, with the same options. A file whose top level or graph does not parse as
/// protobuf fields, or that has more than one graph field (protobuf would merge them),
/// is decoded whole, as before, and fails or not as before.
enum ONNXModelDecoding {
    /// onnx.proto3 field numbers: `ModelProto.graph`, `GraphProto.initializer`.
    private static let graphField: UInt64 = 7, initializerField: UInt64 = 5

    /// One field of a protobuf message: its number, and its bytes (tag included) and its
    /// payload (a length-delimited field's contents) as offsets into the file.
    private struct Field {
        let number: UInt64
        let delimited: Bool
        let whole: Range<Int>
        let payload: Range<Int>
    }

    /// What every decode of a model allows: nesting at most 64 messages deep.
    static var options: BinaryDecodingOptions {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        return options
    }

    static func decode(_ file: MappedFile) throws -> Onnx_ModelProto {
        let bytes = file.bytes
        guard let top = fields(bytes, in: 0..<bytes.count),
              top.filter({ $0.number == graphField }).count == 1,
              let graph = top.first(where: { $0.number == graphField }), graph.delimited,
              let inner = fields(bytes, in: graph.payload)
        else {
            return try Onnx_ModelProto(serializedBytes: borrowed(bytes, 0..<bytes.count), options: options)
        }
        var model = try Onnx_ModelProto(serializedBytes: joined(bytes, top.filter { $0.number != graphField }),
                                        options: options)
        let isInitializer = { (f: Field) in f.number == initializerField && f.delimited }
        var decoded = try Onnx_GraphProto(serializedBytes: joined(bytes, inner.filter { !isInitializer($0) }),
                                          options: options)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var released = 0
        for f in inner where isInitializer(f) {
            decoded.initializer.append(try Onnx_TensorProto(serializedBytes: borrowed(bytes, f.payload), options: options))
            let end = f.whole.upperBound / page * page
            if end > released, let base = bytes.baseAddress {
                _ = madvise(UnsafeMutableRawPointer(mutating: base + released), end - released, MADV_DONTNEED)
                released = end
            }
        }
        model.graph = decoded
        return model
    }

    /// The fields of the message in `range` of `b`; nil when the bytes are not a sequence of
    /// fields (a length past the end, a group, an unknown wire type, a bad varint).
    private static func fields(_ b: UnsafeRawBufferPointer, in range: Range<Int>) -> [Field]? {
        var i = range.lowerBound
        func varint() -> UInt64? {
            var v: UInt64 = 0, shift: UInt64 = 0
            while i < range.upperBound, shift < 64 {
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
            return nil
        }
        var out: [Field] = []
        while i < range.upperBound {
            let start = i
            guard let tag = varint() else { return nil }
            let payloadStart: Int
            switch tag & 7 {
            case 0:
                guard varint() != nil else { return nil }
                payloadStart = i
            case 1, 5:
                let n = tag & 7 == 1 ? 8 : 4
                guard range.upperBound - i >= n else { return nil }
                payloadStart = i
                i += n
            case 2:
                guard let n = varint(), n <= UInt64(range.upperBound - i) else { return nil }
                payloadStart = i
                i += Int(n)
            default:
                return nil
            }
            out.append(Field(number: tag >> 3, delimited: tag & 7 == 2, whole: start..<i, payload: payloadStart..<i))
        }
        return out
    }

    /// The bytes of `range`, without a copy (the map outlives the decode).
    private static func borrowed(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Data {
        guard let base = b.baseAddress, !range.isEmpty else { return Data() }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base + range.lowerBound), count: range.count,
                    deallocator: .none)
    }

    /// The fields' bytes, one after another: a message with just those fields.
    private static func joined(_ b: UnsafeRawBufferPointer, _ fields: [Field]) -> Data {
        var d = Data(capacity: fields.reduce(0) { $0 + $1.whole.count })
        for f in fields { d.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[f.whole])) }
        return d
    }
}
