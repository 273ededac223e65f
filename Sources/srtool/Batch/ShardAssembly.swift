import Foundation
import SRCore
import SRFormats

/// Turns a shard's committed blocks into its outputs, in this order: `input-I-of-N.h5`
/// (with `--inputs`), the record `attribution-I-of-N.json`, and last
/// `attribution-I-of-N.h5`, whose appearance (an atomic rename) marks the shard complete.
/// Each block's arrays are checked against the fingerprint in its journal line first; a
/// block that does not match is forgotten (the next run does it again) and the run ends
/// with exit 65.
struct ShardAssembly {
    let work: ShardWork
    let files: ShardFiles
    let inputs: Bool
    let channels: Int
    let height: Int
    let width: Int

    func write(items: [DatasetItem], model: String, method: String, composite: String?) throws -> BatchRecord {
        let blocks = try work.committedBlocks()
        let rows = blocks.reduce(0) { $0 + $1.rows }
        let filled = blocks.first { $0.rows > 0 }
        let shape = filled?.shape ?? [channels, height, width]
        let classes = filled?.classes ?? 0
        for b in blocks where b.rows > 0 && (b.shape != shape || b.classes != classes) {
            throw SRError.malformed("\(work.folder): block \(b.block) has maps of shape \(b.shape) and \(b.classes) classes, block \(filled?.block ?? 0) \(shape) and \(classes)")
        }
        let layout = AttributionLayout(rows: rows, shape: shape, classes: classes)
        if inputs {
            try AtomicFile.write(to: files.input, byName: { path in
                let h5 = try HDF5Writer(path: path, label: files.input)
                try layout.createInputs(in: h5, shape: [channels, height, width])
                var row = 0
                for b in blocks where b.rows > 0 {
                    let x = try array(b, "input", [b.rows, channels, height, width])
                    try layout.writeInputs(h5, row: row, x: x, index: indices(b), labels: b.labels)
                    row += b.rows
                }
                try h5.close()
            })
        }
        var record = BatchRecord(fingerprint: work.header.fingerprint, model: model, method: method, composite: composite,
                                 images: work.header.images, first: work.header.first, end: work.header.end,
                                 shard: work.header.shard, shards: work.header.shards, inputs: [], failed: [],
                                 preprocessedInputs: inputs, threads: Array(Set(blocks.map(\.threads))).sorted())
        for b in blocks {
            record.inputs += indices(b).map { items[$0].path }
            record.failed += b.failed
        }
        try record.write(to: files.record)
        try AtomicFile.write(to: files.attribution, byName: { path in
            let h5 = try HDF5Writer(path: path, label: files.attribution)
            try layout.create(in: h5, fingerprint: work.header.fingerprint)
            var row = 0
            for b in blocks where b.rows > 0 {
                let map = try array(b, "attribution", [b.rows] + shape)
                let prediction = try array(b, "prediction", [b.rows, classes])
                var sum = Fingerprint()
                sum.add(map)
                sum.add(prediction)
                if inputs { sum.add(try array(b, "input", [b.rows, channels, height, width])) }
                guard sum.hex == b.sum else {
                    try work.forget(from: b.block)
                    throw SRError.malformed("\(work.path(b.block, "attribution")): the arrays of images \(b.first)..<\(b.first + b.count) do not match what was written; run the same command again to redo them")
                }
                try layout.write(h5, row: row, index: indices(b), attribution: map, labels: b.targets, prediction: prediction)
                row += b.rows
            }
            try h5.close()
        })
        return record
    }

    /// The list positions of a block's rows.
    private func indices(_ b: ShardWork.Block) -> [Int] {
        let skipped = Set(b.failed.map(\.index))
        return (b.first..<(b.first + b.count)).filter { !skipped.contains($0) }
    }

    private func array(_ b: ShardWork.Block, _ name: String, _ shape: [Int]) throws -> Tensor {
        let path = work.path(b.block, name)
        let t = try NPY.read(path: path)
        guard t.shape == shape else {
            try work.forget(from: b.block)
            throw SRError.malformed("\(path): shape \(t.shape), expected \(shape); run the same command again to redo it")
        }
        return t
    }
}
