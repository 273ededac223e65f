import Foundation
import SRCore

/// Which part of a dataset run this process does: shard `index` of `count`. The sorted
/// input list is cut into batches of `--batch` images, and each shard takes a contiguous
/// run of whole batches, so every process — one or many — explains exactly the same
/// batches, and a merged file does not depend on how the run was split.
struct Shard: Equatable {
    let index: Int
    let count: Int

    /// `--shard I/N`, or `--shards N` with I from the scheduler: Slurm's array task
    /// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`), a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX`; neither: the whole list.
    static func resolve(shard: String?, shards: Int?, environment: [String: String]) throws -> Shard {
        if let shard {
            guard shards == nil else { throw SRError.usage("give either --shard I/N or --shards N, not both") }
            let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
                throw SRError.usage("--shard expects I/N (shard I of N, counted from 0), got '\(shard)'")
            }
            return try Shard(checked: i, of: n, from: "--shard")
        }
        guard let n = shards else { return Shard(index: 0, count: 1) }
        if let id = environment["SLURM_ARRAY_TASK_ID"] {
            guard let task = Int(id) else { throw SRError.usage("SLURM_ARRAY_TASK_ID is '\(id)', not a number") }
            let low = try environment["SLURM_ARRAY_TASK_MIN"].map { text -> Int in
                guard let v = Int(text) else { throw SRError.usage("SLURM_ARRAY_TASK_MIN is '\(text)', not a number") }
                return v
            } ?? 0
            return try Shard(checked: task - low, of: n, from: "SLURM_ARRAY_TASK_ID")
        }
        if let id = environment["JOB_COMPLETION_INDEX"] {
            guard let i = Int(id) else { throw SRError.usage("JOB_COMPLETION_INDEX is '\(id)', not a number") }
            return try Shard(checked: i, of: n, from: "JOB_COMPLETION_INDEX")
        }
        throw SRError.usage("--shards \(n) takes the shard from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, and neither is set (or give --shard I/N)")
    }

    private init(checked i: Int, of n: Int, from source: String) throws {
        guard n >= 1 else { throw SRError.usage("the number of shards must be at least 1, got \(n)") }
        guard i >= 0, i < n else { throw SRError.usage("\(source) gives shard \(i), outside 0..\(n - 1) of \(n) shards") }
        self.init(index: i, count: n)
    }

    init(index: Int, count: Int) { self.index = index; self.count = count }

    /// This shard's batches among `batches`: ⌊I·b/N⌋ ..< ⌊(I+1)·b/N⌋.
    func batches(of batches: Int) -> Range<Int> { (index * batches / count)..<((index + 1) * batches / count) }

    /// `2-of-4`, in the names of its files.
    var name: String { "\(index)-of-\(count)" }
}
