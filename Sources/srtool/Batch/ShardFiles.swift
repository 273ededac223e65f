import Foundation
import SRCore

/// The files of shard I of N in the output folder: `attribution-I-of-N.h5` (the shard's
/// attributions; its presence means the shard is complete), `attribution-I-of-N.json`
/// (its record: fingerprint, input paths, skipped images), `input-I-of-N.h5` with
/// `--inputs`, `heatmaps/` with `--heatmaps`, and while it runs `attribution-I-of-N.partial/`.
struct ShardFiles {
    let out: String
    let shard: Shard

    private func file(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }
    var attribution: String { file("attribution-\(shard.name).h5") }
    var record: String { file("attribution-\(shard.name).json") }
    var input: String { file("input-\(shard.name).h5") }
    var work: String { file("attribution-\(shard.name).partial") }
    func heatmap(_ name: String) -> String { file("heatmaps/" + name) }

    func makeFolder() throws {
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot write folder \(out): \(systemReason(error))")
        }
    }

    func makeHeatmapFolder() throws {
        do { try FileManager.default.createDirectory(atPath: file("heatmaps"), withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot write folder \(file("heatmaps")): \(systemReason(error))")
        }
    }

    /// The record of a complete shard (its HDF5 file and record are both there), else nil.
    func finished() throws -> BatchRecord? {
        guard FileManager.default.fileExists(atPath: attribution), FileManager.default.fileExists(atPath: record) else { return nil }
        return try BatchRecord.read(record)
    }

    /// Removes what an earlier run of this shard wrote (`--force`).
    func removeOutputs() throws {
        for path in [attribution, input, record] where FileManager.default.fileExists(atPath: path) {
            guard unlink(path) == 0 else { throw SRError.cannotWrite("cannot remove \(path): \(String(cString: strerror(errno)))") }
        }
        try ShardWork.remove(work)
    }

    /// The files a complete shard consists of.
    func written(_ record: BatchRecord) -> [String] { [attribution] + (record.preprocessedInputs ? [input] : []) + [self.record] }
}
