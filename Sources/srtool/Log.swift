import Foundation

/// Progress, warnings and errors go to stderr; data goes to stdout.
enum Log {
    static func error(_ message: String) { write("srtool: error: \(message)") }
    /// Each warning is said once per run, however many places meet its cause.
    static func warning(_ message: String) {
        said.lock.lock()
        let first = said.lines.insert(message).inserted
        said.lock.unlock()
        if first { write("srtool: warning: \(message)") }
    }
    private static let said = Said()
    private final class Said: @unchecked Sendable { let lock = NSLock(); var lines = Set<String>() }
    static func info(_ message: String) { write(message) }

    /// `timing: load 0.512 s, forward best 0.30121 s, median 0.31043 s (5 runs)` — the line
    /// Tools/bench parses; ten microseconds, as a small layer's change moves a MobileNet's
    /// 4-ms pass by that much.
    static func timing(load: Duration, label: String, runs: [Duration]) {
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        let s = runs.map(seconds).sorted()
        info(String(format: "timing: load %.3f s, %@ best %.5f s, median %.5f s (%d runs)",
                    seconds(load), label, s.first ?? 0, s.isEmpty ? 0 : s[s.count / 2], s.count))
    }

    /// Every line srtool says is escaped for the terminal: a message may quote a name
    /// from a file.
    private static func write(_ line: String) {
        FileHandle.standardError.write(Data((Escape.terminal(line) + "\n").utf8))
    }
}

/// Writes text to stdout, each line escaped for the terminal (names come from files).
func emit(_ text: String) {
    print(text.split(separator: "\n", omittingEmptySubsequences: false).map { Escape.terminal(String($0)) }.joined(separator: "\n"))
}
