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

    /// What every decode of a model allows: nesting at most 64 messages deep.
    static var options: BinaryDecodingOptions {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        return options
    }

    static func decode(_ file: MappedFile) throws -> Onnx_ModelProto {
        let bytes = file.bytes
        guard let top = ProtobufFields.all(bytes, in: 0..<bytes.count),
              case let graphs = top.filter({ $0.number == graphField }), graphs.count == 1,
              let graph = graphs.first, graph.delimited,
              let inner = ProtobufFields.all(bytes, in: graph.payload)
        else {
            return try Onnx_ModelProto(serializedBytes: borrowed(bytes, 0..<bytes.count), options: options)
        }
        var model = try Onnx_ModelProto(serializedBytes: joined(bytes, top.filter { $0.number != graphField }),
                                        options: options)
        let isInitializer = { (f: ProtobufFields.Field) in f.number == initializerField && f.delimited }
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
