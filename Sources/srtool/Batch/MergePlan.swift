import Foundation
import SRCore

/// The parts of a dataset run in an output folder, checked before anything is merged:
/// every shard of one N is complete (its HDF5 file and record are there), all were made
/// with the same fingerprint, and their slices tile the sorted list. Only the records
/// (JSON) are read here; the HDF5 files are read by the `_merge` child.
struct MergePlan {
    let folder: String
    let shards: Int
    let records: [BatchRecord]

    init(folder: String) throws {
        self.folder = folder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw SRError.missing("\(folder): no such folder")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var counts = Set<Int>()
        for e in entries where e.hasPrefix("attribution-") {
            let parts = e.dropFirst("attribution-".count).split(separator: ".", maxSplits: 1)
            let numbers = parts.first?.split(separator: "-") ?? []
            if numbers.count == 3, numbers[1] == "of", Int(numbers[0]) != nil, let n = Int(numbers[2]) { counts.insert(n) }
        }
        guard let n = counts.first else { throw SRError.missing("\(folder) holds no parts of srtool batch (attribution-I-of-N.h5)") }
        guard counts.count == 1 else {
            throw SRError.malformed("\(folder) holds parts of runs with \(counts.sorted().map(String.init).joined(separator: " and ")) shards; remove the parts of the run you do not want")
        }
        shards = n
        var records: [BatchRecord] = []
        for i in 0..<n {
            let files = ShardFiles(out: folder, shard: Shard(index: i, count: n))
            guard let record = try files.finished() else {
                if FileManager.default.fileExists(atPath: files.work) {
                    throw SRError.missing("part \(i) of \(n) is incomplete (\(files.work) is still there); run shard \(i) again with the same command to finish it")
                }
                throw SRError.missing("part \(i) of \(n) is missing (no \(files.attribution)); run shard \(i)")
            }
            guard record.shard == i, record.shards == n else {
                throw SRError.malformed("\(files.record) describes shard \(record.shard ?? -1) of \(record.shards ?? 0), not \(i) of \(n)")
            }
            if let first = records.first {
                guard record.fingerprint == first.fingerprint, record.images == first.images,
                      record.preprocessedInputs == first.preprocessedInputs else {
                    throw SRError.malformed("part \(i) of \(n) was made with another model, method, options or input list than part 0 (fingerprint \(record.fingerprint), part 0 \(first.fingerprint)); run it again with --force and the same options")
                }
            }
            guard record.first == (records.last?.end ?? 0) else {
                throw SRError.malformed("part \(i) of \(n) covers images \(record.first)..<\(record.end), not from \(records.last?.end ?? 0)")
            }
            records.append(record)
        }
        guard let last = records.last, last.end == last.images else {
            throw SRError.malformed("the parts cover \(records.last?.end ?? 0) of \(records.last?.images ?? 0) images")
        }
        self.records = records
    }

    func files(_ i: Int) -> ShardFiles { ShardFiles(out: folder, shard: Shard(index: i, count: shards)) }

    /// The record of the merged file: every part's rows and skipped images, in order.
    var merged: BatchRecord {
        var r = records[0]
        r.first = 0
        r.end = r.images
        r.shard = nil
        r.shards = nil
        r.inputs = records.flatMap(\.inputs)
        r.failed = records.flatMap(\.failed)
        r.threads = Array(Set(records.flatMap(\.threads))).sorted()
        return r
    }

    /// Bytes of the HDF5 parts (for the child's time limit).
    var bytes: Int {
        (0..<shards).reduce(0) { total, i in
            let f = files(i)
            return [f.attribution, f.input].reduce(total) { t, p in t + ((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0) }
        }
    }
}
