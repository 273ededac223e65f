import Foundation
import SRCore
import SwiftProtobuf

/// One weight blob of a caffemodel layer: its shape and where its numbers are.
struct CaffeBlob {
    /// `shape.dim`, or the legacy `num, channels, height, width`.
    var shape: [Int]
    /// True when the shape came from the legacy 4-D fields.
    var legacy: Bool
    enum Values {
        /// Packed little-endian float32s at this byte range of the mapped file.
        case mapped(Range<Int>)
        /// Values decoded from an unpacked or float64 encoding (rare, small).
        case decoded([Float])
    }
    var values: Values

    var count: Int {
        switch values {
        case .mapped(let r): r.count / 4
        case .decoded(let v): v.count
        }
    }
}

/// A layer of a binary caffemodel: its parameters (V1 layers upgraded to the V2 message)
/// and its blobs, which stay in the file.
struct CaffeBinaryLayer {
    var layer: Caffe_LayerParameter
    var blobs: [CaffeBlob]
}

/// A binary `.caffemodel` (`NetParameter`), memory-mapped. The top-level layer list and
/// every `BlobProto` are walked here so the weights are never copied; everything else of a
/// layer is decoded with the generated messages.
final class CaffeModelFile {
    let path: String
    let file: MappedFile
    /// The net's own fields (name, legacy inputs); `layer`/`layers` are in `layers`.
    let net: Caffe_NetParameter
    let layers: [CaffeBinaryLayer]
    let isV1: Bool

    /// NetParameter field numbers (caffe.proto): `layers` (V1) = 2, `layer` (V2) = 100.
    private static let v1LayersField = 2, v2LayerField = 100
    /// Blob field of V1LayerParameter (6) and LayerParameter (7).
    private static let v1BlobsField = 6, v2BlobsField = 7

    init(path: String, limits: ImportLimits) throws {
        self.path = path
        file = try MappedFile(path: path)
        guard file.size > 0 else { throw SRError.malformed("\(path): empty file") }
        let bytes = file.bytes
        var reader = ProtoWireReader(bytes, range: 0..<file.size)
        var header = Data()
        var v1: [Range<Int>] = [], v2: [Range<Int>] = []
        do {
            while !reader.atEnd {
                let start = reader.offset
                let (field, wire) = try reader.tag()
                if wire == 2 && field == Self.v2LayerField {
                    v2.append(try reader.payload())
                } else if wire == 2 && field == Self.v1LayersField {
                    v1.append(try reader.payload())
                } else {
                    try reader.skip(wire: wire)
                    header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<reader.offset]))
                }
            }
            try limits.check(nodes: v1.count + v2.count)
            net = try Caffe_NetParameter(serializedBytes: header)
            if !v2.isEmpty && !v1.isEmpty {
                throw SRError.malformed("\(path): holds both V1 'layers' and V2 'layer' lists")
            }
            isV1 = v2.isEmpty && !v1.isEmpty
            var layers: [CaffeBinaryLayer] = []
            for range in (isV1 ? v1 : v2) {
                layers.append(try Self.layer(bytes, range: range, v1: isV1, limits: limits))
            }
            self.layers = layers
        } catch ProtoWireReader.Failure.truncated {
            throw SRError.malformed("\(path): truncated caffemodel (a length runs past the end of the file)")
        } catch ProtoWireReader.Failure.malformed(let what) {
            throw SRError.malformed("\(path): not a valid caffemodel (\(what))")
        } catch let e as BinaryDecodingError {
            throw SRError.malformed("\(path): not a valid caffemodel (protobuf: \(e))")
        }
    }

    /// Splits one layer message into its blobs (walked here) and the rest (decoded).
    private static func layer(_ bytes: UnsafeRawBufferPointer, range: Range<Int>, v1: Bool,
                              limits: ImportLimits) throws -> CaffeBinaryLayer {
        var reader = ProtoWireReader(bytes, range: range)
        var rest = Data()
        var blobs: [CaffeBlob] = []
        let blobsField = v1 ? v1BlobsField : v2BlobsField
        while !reader.atEnd {
            let start = reader.offset
            let (field, wire) = try reader.tag()
            if field == blobsField && wire == 2 {
                blobs.append(try blob(bytes, range: try reader.payload()))
            } else {
                try reader.skip(wire: wire)
                rest.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<reader.offset]))
            }
        }
        let layer = v1 ? try CaffeV1.upgrade(Caffe_V1LayerParameter(serializedBytes: rest))
                       : try Caffe_LayerParameter(serializedBytes: rest)
        for (i, b) in blobs.enumerated() {
            try limits.check(elements: b.count, what: "layer '\(layer.name)' blob \(i)")
        }
        return CaffeBinaryLayer(layer: layer, blobs: blobs)
    }

    /// BlobProto fields (caffe.proto): num 1, channels 2, height 3, width 4, data 5 (packed
    /// float), diff 6, shape 7 (BlobShape, dim 1 packed int64), double_data 8, double_diff 9.
    private static func blob(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) throws -> CaffeBlob {
        var reader = ProtoWireReader(bytes, range: range)
        var legacy = [0, 0, 0, 0]
        var hasLegacy = false
        var dims: [Int]?
        var mapped: Range<Int>?
        var decoded: [Float] = []
        var doubles = false
        func dim(_ v: UInt64) throws -> Int {
            let s = Int64(bitPattern: v)
            guard s >= 0, s < 1 << 31 else { throw ProtoWireReader.Failure.malformed("blob dimension \(s)") }
            return Int(s)
        }
        while !reader.atEnd {
            let (field, wire) = try reader.tag()
            switch (field, wire) {
            case (1...4, 0):
                legacy[field - 1] = try dim(try reader.varint())
                hasLegacy = true
            case (5, 2), (5, 5):
                // One packed run stays in the file; anything else is decoded in order.
                if let m = mapped { decoded = try floats(bytes, m); mapped = nil }
                if wire == 5 {
                    decoded.append(Float(bitPattern: try reader.fixed32()))
                    continue
                }
                let r = try reader.payload()
                guard r.count % 4 == 0 else { throw ProtoWireReader.Failure.malformed("packed float data of \(r.count) bytes") }
                if decoded.isEmpty && !doubles { mapped = r } else { decoded += try floats(bytes, r) }
            case (8, 2):
                let r = try reader.payload()
                guard r.count % 8 == 0 else { throw ProtoWireReader.Failure.malformed("packed double data of \(r.count) bytes") }
                var sub = ProtoWireReader(bytes, range: r)
                while !sub.atEnd { decoded.append(Float(Double(bitPattern: try sub.fixed64()))) }
                doubles = true
            case (7, 2):
                var shape = ProtoWireReader(bytes, range: try reader.payload())
                var d: [Int] = []
                while !shape.atEnd {
                    let (f, w) = try shape.tag()
                    if f == 1 && w == 2 {
                        var packed = ProtoWireReader(bytes, range: try shape.payload())
                        while !packed.atEnd { d.append(try dim(try packed.varint())) }
                    } else if f == 1 && w == 0 {
                        d.append(try dim(try shape.varint()))
                    } else {
                        try shape.skip(wire: w)
                    }
                }
                dims = d
            default:
                try reader.skip(wire: wire)
            }
        }
        typealias Failure = ProtoWireReader.Failure
        if mapped != nil && doubles { throw Failure.malformed("a blob holds both float and double data") }
        let shape = dims ?? (hasLegacy ? legacy : [])
        guard let count = Shape.elementCount(shape) else { throw Failure.malformed("blob shape \(shape) overflows") }
        let blob = CaffeBlob(shape: shape, legacy: dims == nil && hasLegacy,
                             values: mapped.map { .mapped($0) } ?? .decoded(decoded))
        guard blob.count == count else {
            throw Failure.malformed("a blob of shape \(shape) holds \(blob.count) values, not \(count)")
        }
        return blob
    }

    private static func floats(_ bytes: UnsafeRawBufferPointer, _ r: Range<Int>) throws -> [Float] {
        (0..<(r.count / 4)).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: r.lowerBound + 4 * $0, as: UInt32.self))) }
    }

    /// The blob as a tensor of `shape`: borrowed from the mapped file when its data is
    /// 4-byte aligned there, read into a new tensor otherwise (`MappedFile.read`, which
    /// leaves the map's pages untouched, so a big unaligned blob — VGG's fc6, 411 MB — is
    /// neither held twice nor faulted in page by page).
    func tensor(_ blob: CaffeBlob, shape: [Int]) throws -> Tensor {
        switch blob.values {
        case .decoded(let v):
            return try Tensor(shape: shape, values: v)
        case .mapped(let r):
            guard let base = file.base else { throw SRError.malformed("\(path): empty file") }
            let p = base + r.lowerBound
            if Int(bitPattern: p) % MemoryLayout<Float>.alignment == 0 {
                let floats = UnsafeMutablePointer(mutating: p.assumingMemoryBound(to: Float.self))
                return try Tensor(shape: shape, storage: TensorStorage(borrowing: floats, count: r.count / 4, owner: file))
            }
            let t = Tensor(uninitialized: shape)
            try file.read(r, into: UnsafeMutableRawPointer(t.pointer))
            return t
        }
    }
}
