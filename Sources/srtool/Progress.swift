import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and the work is
/// big enough to wait for; otherwise it prints nothing.
final class Progress {
    private let label: String
    private let enabled: Bool
    private var shown = -1

    init(_ label: String, bytes: Int, threshold: Int = 64 << 20) {
        self.label = label
        enabled = isatty(STDERR_FILENO) != 0 && bytes >= threshold
    }

    /// `fraction` of the work is done.
    func update(_ fraction: Double) {
        guard enabled else { return }
        let percent = Int((min(max(fraction, 0), 1) * 100).rounded(.down))
        guard percent != shown else { return }
        shown = percent
        let width = 30, filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)%".utf8))
    }

    /// Clears the line.
    func finish() {
        guard enabled, shown >= 0 else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: label.count + 40) + "\r").utf8))
    }
}
