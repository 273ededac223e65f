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
///
/// An initializer's one large `raw_data` field (64 KiB or more) is not decoded at all: the
/// rest of its `TensorProto` is, and where the bytes lie in the file is handed back
/// (`RawData`), for the importer to read them straight into the tensor (`MappedFile.read`)
/// without touching the map. Decoded, protobuf copied each payload out of the map, and the
/// importer then made the tensor beside that copy: VGG-16's 553 MB file peaked at 976 MB,
/// two copies of its 411 MB fc6 at once.
enum ONNXModelDecoding {
    /// onnx.proto3 field numbers: `ModelProto.graph`, `GraphProto.initializer`,
    /// `TensorProto.raw_data`.
    private static let graphField: UInt64 = 7, initializerField: UInt64 = 5, rawDataField: UInt64 = 9
    /// The smallest `raw_data` left in the file.
    private static let leftInFile = 1 << 16

    /// Where initializer i's `raw_data` lies in the file (the decoded proto's is empty).
    typealias RawData = [Int: Range<Int>]
    /// The mapped model file and the `raw_data` left in it.
    typealias RawSource = (file: MappedFile, ranges: RawData)

    /// What every decode of a model allows: nesting at most 64 messages deep.
    static var options: BinaryDecodingOptions {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        return options
    }

    static func decode(_ file: MappedFile) throws -> (model: Onnx_ModelProto, raw: RawData) {
        let bytes = file.bytes
        guard let top = ProtobufFields.all(bytes, in: 0..<bytes.count),
              case let graphs = top.filter({ $0.number == graphField }), graphs.count == 1,
              let graph = graphs.first, graph.delimited,
              let inner = ProtobufFields.all(bytes, in: graph.payload)
        else {
            return (try Onnx_ModelProto(serializedBytes: borrowed(bytes, 0..<bytes.count), options: options), [:])
        }
        var model = try Onnx_ModelProto(serializedBytes: joined(bytes, top.filter { $0.number != graphField }),
                                        options: options)
        let isInitializer = { (f: ProtobufFields.Field) in f.number == initializerField && f.delimited }
        var decoded = try Onnx_GraphProto(serializedBytes: joined(bytes, inner.filter { !isInitializer($0) }),
                                          options: options)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var released = 0
        var raw: RawData = [:]
        for f in inner where isInitializer(f) {
            // One raw_data field (protobuf would keep the last of several), large: the rest.
            if let fields = ProtobufFields.all(bytes, in: f.payload),
               case let data = fields.filter({ $0.number == rawDataField }), data.count == 1, let field = data.first,
               field.delimited, field.payload.count >= leftInFile {
                raw[decoded.initializer.count] = field.payload
                decoded.initializer.append(try Onnx_TensorProto(serializedBytes: joined(bytes, fields.filter {
                    $0.number != rawDataField
                }), options: options))
            } else {
                decoded.initializer.append(try Onnx_TensorProto(serializedBytes: borrowed(bytes, f.payload), options: options))
            }
            let end = f.whole.upperBound / page * page
            if end > released, let base = bytes.baseAddress {
                _ = madvise(UnsafeMutableRawPointer(mutating: base + released), end - released, MADV_DONTNEED)
                released = end
            }
        }
        model.graph = decoded
        return (model, raw)
    }

    /// The bytes of `range`, without a copy (the map outlives the decode).
    private static func borrowed(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Data {
        guard let base = b.baseAddress, !range.isEmpty else { return Data() }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base + range.lowerBound), count: range.count,
                    deallocator: .none)
    }

    /// The fields' bytes, one after another: a message with just those fields.
    private static func joined(_ b: UnsafeRawBufferPointer, _ fields: [ProtobufFields.Field]) -> Data {
        var d = Data(capacity: fields.reduce(0) { $0 + $1.whole.count })
        for f in fields { d.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[f.whole])) }
        return d
    }
}
