import Foundation

/// How far a shard is: on a terminal the progress line (images/s, time left); otherwise,
/// for cluster logs, one JSON line on stderr every `every` images and at the end:
/// `{"done":…,"eta_seconds":…,"images_per_second":…,"shard":"2/4","total":…}`
/// (docs/json.md). Nothing with `--quiet`.
final class BatchProgress {
    private let line: Progress?
    private let every: Int
    private let total: Int
    private let shard: Shard
    private let started = Date()
    private var lastLogged = 0

    /// `total` images to do in this process, `every`: images between JSON lines.
    init(total: Int, shard: Shard, every: Int, quiet: Bool) {
        self.total = total
        self.shard = shard
        self.every = quiet ? 0 : every
        line = !quiet && isatty(STDERR_FILENO) != 0 ? Progress("batch \(shard.index)/\(shard.count)", total: total, unit: "images", quiet: false) : nil
    }

    struct Line: Encodable {
        var shard: String
        var done: Int
        var total: Int
        var imagesPerSecond: Double
        var etaSeconds: Double
        enum CodingKeys: String, CodingKey {
            case shard, done, total
            case imagesPerSecond = "images_per_second"
            case etaSeconds = "eta_seconds"
        }
    }

    func update(done: Int) {
        if let line {
            line.update(Double(done) / Double(max(total, 1)))
            return
        }
        guard every > 0, done - lastLogged >= every || (done == total && done > lastLogged) else { return }
        lastLogged = done
        let elapsed = Date().timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let entry = Line(shard: "\(shard.index)/\(shard.count)", done: done, total: total,
                         imagesPerSecond: (rate * 100).rounded() / 100,
                         etaSeconds: rate > 0 ? (Double(total - done) / rate).rounded() : 0)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(entry) { FileHandle.standardError.write(data + Data("\n".utf8)) }
    }

    func finish() { line?.finish() }
}
