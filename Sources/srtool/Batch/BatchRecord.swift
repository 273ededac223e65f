import Foundation
import SRCore

/// What a dataset run wrote, beside its HDF5 file (`attribution-I-of-N.json` for a shard,
/// `ALL.json` beside a merged `ALL.h5`): the fingerprint of the model and options, where
/// the rows came from and what was skipped. `merge` checks the parts against each other
/// with it. Field names are part of the CLI contract (docs/json.md).
struct BatchRecord: Codable, Equatable {
    struct Failure: Codable, Equatable {
        /// The image's position in the sorted input list.
        var index: Int
        var input: String
        var error: String
    }
    var format = "srtool-batch"
    var version = 1
    var fingerprint: String
    var model: String
    var method: String
    var composite: String?
    /// Images in the whole sorted list, and the slice `first ..< end` this file covers.
    var images: Int
    var first: Int
    var end: Int
    var shard: Int?
    var shards: Int?
    /// One path per row of the HDF5 file, in row order.
    var inputs: [String]
    var failed: [Failure]
    /// Whether `input-…h5` (the preprocessed inputs) was written beside it.
    var preprocessedInputs: Bool
    /// The `--threads` counts the rows were computed with (the kernels split work by it:
    /// one count gives the same bits in any split of the run, several agree to rounding).
    var threads: [Int]

    enum CodingKeys: String, CodingKey {
        case format, version, fingerprint, model, method, composite, images, first, end, shard, shards, inputs, failed, threads
        case preprocessedInputs = "preprocessed_inputs"
    }

    static func read(_ path: String) throws -> BatchRecord {
        let data = try readCapped(path, limit: 1 << 30)
        guard let r = try? JSONDecoder().decode(BatchRecord.self, from: data), r.format == "srtool-batch", r.version == 1 else {
            throw SRError.malformed("\(path): not a record srtool batch wrote")
        }
        guard r.first >= 0, r.first <= r.end, r.end <= r.images, r.inputs.count + r.failed.count == r.end - r.first else {
            throw SRError.malformed("\(path): its rows and skipped images do not add up to its slice \(r.first)..<\(r.end)")
        }
        return r
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self) + Data("\n".utf8), to: path)
    }
}
