import Foundation

/// Progress, warnings and errors go to stderr; data goes to stdout.
enum Log {
    static func error(_ message: String) { write("srtool: error: \(message)") }
    static func warning(_ message: String) { write("srtool: warning: \(message)") }
    static func info(_ message: String) { write(message) }

    private static func write(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Writes text to stdout.
func emit(_ text: String) {
    print(text)
}
