import Foundation
import SRCore
import SRFormats

/// The resumable state of one shard while it runs, in `OUTDIR/attribution-I-of-N.partial/`:
/// `journal`, and per batch ("block") `k` the arrays `k.attribution.npy` `[rows, C, H, W]`,
/// `k.prediction.npy` `[rows, classes]` and, with `--inputs`, `k.input.npy`. A block's
/// arrays are written first, each atomically (`AtomicFile`); then one line is appended to
/// the journal, and that line is what makes the block count. A process killed at any
/// instant leaves the journal ending in complete lines (a torn last line is dropped) whose
/// blocks are all on disk; the next run redoes only blocks without a line. srtool reads
/// these files itself (JSON lines, `.npy`), never through libhdf5.
final class ShardWork {
    /// The journal's first line: what the shard is, and the fingerprint of what it computes.
    struct Header: Codable, Equatable {
        var format = "srtool-batch-journal"
        var version = 1
        var fingerprint: String
        var shard: Int
        var shards: Int
        var images: Int
        var first: Int
        var end: Int
        var batch: Int
        /// Whether blocks also hold the preprocessed inputs (`--inputs`).
        var inputs: Bool
    }

    /// One committed block: images `first ..< first + count` of the sorted list, `rows` of
    /// them explained (the others in `failed`), the class each row explains (`targets`) and
    /// its label for the input file (`labels`), and the fingerprint of its arrays.
    struct Block: Codable {
        var block: Int
        var first: Int
        var count: Int
        var rows: Int
        var targets: [Int]
        var labels: [Int]
        var failed: [BatchRecord.Failure]
        var shape: [Int]
        var classes: Int
        var sum: String
        /// `--threads`: the kernels split work by it, so values agree across thread
        /// counts to rounding, bit for bit only at the same count.
        var threads: Int
    }

    let folder: String
    let header: Header
    /// The committed blocks when the folder was opened; `commit` only counts what it adds
    /// (small objects kept for the whole run would pin the heap between the batches'
    /// tensors, and the process would grow with the dataset), `committedBlocks()` reads them back.
    private var blocks: [Block] = []
    private(set) var committed = 0
    private var journal: String { (folder as NSString).appendingPathComponent("journal") }

    /// Opens the shard's work folder, or starts it. A journal for other options is refused
    /// unless `force` (then the folder starts again).
    init(folder: String, header: Header, force: Bool) throws {
        self.folder = folder
        self.header = header
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw SRError.cannotWrite("cannot write \(folder): a file of that name exists") }
            if FileManager.default.fileExists(atPath: journal) {
                let lines = try Self.lines(try readCapped(journal, limit: 1 << 30))
                let old = lines.first.flatMap { try? JSONDecoder().decode(Header.self, from: $0) }
                if let old, old == header {
                    blocks = Self.committed(lines.dropFirst(), header: header)
                    if blocks.count != lines.count - 1 { try rewriteJournal() }
                } else if !force {
                    throw SRError.usage("\(folder) was started with another model, method, options or input list (fingerprint \(old?.fingerprint ?? "unreadable"), now \(header.fingerprint)); run the same command as before, or add --force to start this shard again")
                } else {
                    try Self.remove(folder)
                }
            }
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot write \(folder): \(systemReason(error))")
        }
        if !FileManager.default.fileExists(atPath: journal) { try rewriteJournal() }
        // A block whose arrays went missing (a lost write after a crash of the machine)
        // ends the journal there: it and what follows are done again.
        if let bad = blocks.firstIndex(where: { !arraysPresent($0) }) {
            blocks.removeLast(blocks.count - bad)
            try rewriteJournal()
        }
        committed = blocks.count
    }

    /// Every committed block, from the journal.
    func committedBlocks() throws -> [Block] {
        let lines = try Self.lines(try readCapped(journal, limit: 1 << 30))
        blocks = Self.committed(lines.dropFirst(), header: header)
        guard blocks.count == committed else {
            throw SRError.malformed("\(journal): holds \(blocks.count) blocks, this run committed \(committed); run the same command again")
        }
        return blocks
    }

    /// Where block `k`'s array `name` (`attribution`, `prediction`, `input`) goes.
    func path(_ k: Int, _ name: String) -> String { (folder as NSString).appendingPathComponent("\(k).\(name).npy") }

    /// Makes `block` count: its arrays are on disk; appends its line and flushes it.
    func commit(_ block: Block) throws {
        var line = try Self.encoder.encode(block)
        line.append(0x0a)
        let fd = open(journal, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw SRError.cannotWrite("cannot write \(journal): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = line.withUnsafeBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else { throw SRError.cannotWrite("cannot write \(journal): \(String(cString: strerror(errno)))") }
        committed += 1
    }

    /// Drops blocks `k…` (their arrays did not match their fingerprint), so that the next
    /// run does them again.
    func forget(from k: Int) throws {
        blocks.removeLast(max(0, blocks.count - k))
        committed = blocks.count
        try rewriteJournal()
    }

    static func remove(_ folder: String) throws {
        guard FileManager.default.fileExists(atPath: folder) else { return }
        do { try FileManager.default.removeItem(atPath: folder) } catch {
            throw SRError.cannotWrite("cannot remove \(folder): \(systemReason(error))")
        }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    private func rewriteJournal() throws {
        var data = try Self.encoder.encode(header) + Data("\n".utf8)
        for b in blocks { data += try Self.encoder.encode(b) + Data("\n".utf8) }
        try AtomicFile.write(data, to: journal)
    }

    /// The complete lines of a journal (a torn last line, without its newline, is dropped).
    private static func lines(_ data: Data) throws -> [Data] {
        var parts = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        parts.removeLast()  // what follows the last newline: empty, or a torn line
        return parts.map { Data($0) }
    }

    /// The blocks the lines commit, up to the first line that does not continue the one
    /// before it.
    private static func committed(_ lines: ArraySlice<Data>, header: Header) -> [Block] {
        var blocks: [Block] = []
        var next = header.first
        for line in lines {
            guard let b = try? JSONDecoder().decode(Block.self, from: line), b.block == blocks.count, b.first == next,
                  b.count >= 0, b.count <= header.batch, b.rows >= 0, b.rows + b.failed.count == b.count,
                  b.targets.count == b.rows, b.labels.count == b.rows, b.classes >= 0,
                  b.first + b.count <= header.end else { break }
            blocks.append(b)
            next += b.count
        }
        return blocks
    }

    /// Whether a block's arrays are there, at least as large as their rows need.
    private func arraysPresent(_ b: Block) -> Bool {
        guard b.rows > 0 else { return true }
        let names = ["attribution", "prediction"] + (header.inputs ? ["input"] : [])
        return names.allSatisfy { name in
            let size = (try? FileManager.default.attributesOfItem(atPath: path(b.block, name))[.size] as? Int) ?? -1
            let per = name == "prediction" ? b.classes : name == "attribution" ? b.shape.reduce(1, *) : 0
            return size >= b.rows * per * 4
        }
    }
}
