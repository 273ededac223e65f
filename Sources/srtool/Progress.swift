import ArgumentParser
import Foundation

/// A one-line progress indicator on stderr, with the rate and the time left, for work that
/// takes a while: drawn only when stderr is a terminal, `--quiet` is not given and the work
/// has run for a second (`SRTOOL_PROGRESS_AFTER` seconds); otherwise it prints nothing.
/// Safe to update from any thread.
final class Progress: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let enabled: Bool
    private let started = Date()
    private let delay = ProcessInfo.processInfo.environment["SRTOOL_PROGRESS_AFTER"].flatMap(Double.init) ?? 1
    private var lastDraw = Date.distantPast
    private var drawn = false
    private let lock = NSLock()

    /// `total` units of work (`unit` names them in the rate: "passes", "images", "MB").
    init(_ label: String, total: Int, unit: String, quiet: Bool) {
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        enabled = !quiet && isatty(STDERR_FILENO) != 0
    }

    /// `fraction` of the work is done.
    func update(_ fraction: Double) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let elapsed = now.timeIntervalSince(started)
        guard elapsed >= delay, now.timeIntervalSince(lastDraw) >= 0.2 || fraction >= 1 else { return }
        lastDraw = now
        drawn = true
        let f = min(max(fraction, 0), 1)
        let width = 24, filled = Int(f * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let rate = f * Double(total) / elapsed
        let left = f > 0 ? elapsed * (1 - f) / f : 0
        let line = String(format: "\r%@ [%@] %3d%%  %@ %@/s  ETA %@ ", label, bar, Int(f * 100), Self.rateText(rate), unit, Self.clock(left))
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Clears the line.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: label.count + 72) + "\r").utf8))
        drawn = false
    }

    private static func rateText(_ r: Double) -> String { r >= 100 ? String(format: "%.0f", r) : String(format: "%.3g", r) }

    /// 75 → "1:15", 3700 → "1:01:40".
    private static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// `--quiet`, on every command that can show progress.
struct ProgressArguments: ParsableArguments {
    @Flag(help: "No progress line on the terminal.")
    var quiet = false

    func progress(_ label: String, total: Int, unit: String) -> Progress {
        Progress(label, total: total, unit: unit, quiet: quiet)
    }
}
