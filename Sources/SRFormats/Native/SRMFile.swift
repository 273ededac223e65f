import Foundation
import SRCore

/// The native `.srm` file: a safetensors file (8-byte little-endian header length, JSON
/// header padded with spaces to 8 bytes, raw little-endian float32 tensors back to back)
/// whose `__metadata__` holds `format: "srtool"`, `version` and `graph` (GraphJSON).
public enum SRMFile {
    public static let version = "1"

    /// True when `bytes` start like a safetensors file written by srtool.
    public static func sniff(_ bytes: Data) -> Bool {
        guard bytes.count >= 16 else { return false }
        let header = bytes.dropFirst(8).prefix(4096)
        return header.first == UInt8(ascii: "{") && String(decoding: header, as: UTF8.self).contains("\"srtool\"")
    }

    public static func write(_ graph: Graph, to path: String, progress: ((Double) -> Void)? = nil) throws {
        let record = GraphRecord(inputs: graph.inputs, outputs: graph.outputs,
                                 nodes: graph.nodes.map(NodeRecord.init), metadata: graph.metadata)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let graphJSON = String(decoding: try encoder.encode(record), as: UTF8.self)
        var header: [String: Any] = [
            "__metadata__": ["format": "srtool", "version": version, "graph": graphJSON],
        ]
        let names = graph.weights.keys.sorted()
        var offset = 0
        for name in names {
            guard let t = graph.weights[name] else { continue }
            let bytes = t.count * 4
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (json.count + 8) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        try AtomicFile.write(to: path) { handle in
            var length = UInt64(json.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: json)
            // Straight from each tensor's storage (often the mapped source file), in 16 MiB
            // pieces so a progress bar can follow.
            var written = 0
            for name in names {
                guard let t = graph.weights[name] else { continue }
                let raw = UnsafeMutableRawPointer(t.pointer)
                var start = 0
                while start < t.count * 4 {
                    let n = min(16 << 20, t.count * 4 - start)
                    try handle.write(contentsOf: Data(bytesNoCopy: raw + start, count: n, deallocator: .none))
                    start += n
                    written += n
                    progress?(Double(written) / Double(max(offset, 1)))
                }
            }
        }
    }

    /// Maps the file and builds the graph; weights are read in place, not copied.
    public static func load(path: String, limits: ImportLimits = .default) throws -> Graph {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func bad(_ why: String) -> SRError { .malformed("\(path): not a valid .srm file: \(why)") }
        guard bytes.count >= 8 else { throw bad("too short") }
        let headerLength = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(bytes.count - 8), headerLength <= 100_000_000 else {
            throw bad("header length \(headerLength) exceeds the file size \(bytes.count)")
        }
        let dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes[8..<dataStart])
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        guard let meta = header["__metadata__"] as? [String: String], meta["format"] == "srtool",
              let graphJSON = meta["graph"] else {
            throw bad("no srtool graph in __metadata__ (a plain safetensors file holds no graph)")
        }
        guard meta["version"] == version else {
            throw SRError.unsupported("\(path): .srm version \(meta["version"] ?? "?") is not supported (this srtool reads \(version))")
        }
        let record: GraphRecord
        do {
            record = try JSONDecoder().decode(GraphRecord.self, from: Data(graphJSON.utf8))
        } catch {
            throw bad("graph JSON: \(error)")
        }
        try limits.check(nodes: record.nodes.count)
        let dataSize = bytes.count - dataStart
        var weights: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                  offsets.count == 2 else {
                throw bad("tensor '\(name)' has no dtype/shape/data_offsets")
            }
            guard dtype == "F32" else { throw SRError.unsupported("\(path): tensor '\(name)' has dtype \(dtype); only F32 is supported") }
            guard let n = Shape.elementCount(shape), let byteCount = Shape.byteCount(shape, elementSize: 4) else {
                throw bad("tensor '\(name)' has an invalid shape \(shape)")
            }
            try limits.check(elements: n, what: "tensor '\(name)'")
            let (start, end) = (offsets[0], offsets[1])
            guard start >= 0, start <= end, end <= dataSize, end - start == byteCount, start % 4 == 0,
                  let base = file.base else {
                throw bad("tensor '\(name)' offsets [\(start), \(end)) do not fit shape \(shape) in \(dataSize) data bytes")
            }
            let p = UnsafeMutableRawPointer(mutating: base + dataStart + start).assumingMemoryBound(to: Float.self)
            weights[name] = try Tensor(shape: shape, storage: TensorStorage(borrowing: p, count: n, owner: file))
        }
        if dataStart % 4 != 0 && !weights.isEmpty { throw bad("tensor data is not 4-byte aligned") }
        let graph = Graph(inputs: record.inputs, outputs: record.outputs, nodes: try record.nodes.map { try $0.node() },
                          weights: weights, metadata: record.metadata)
        try graph.validate()
        return graph
    }
}
