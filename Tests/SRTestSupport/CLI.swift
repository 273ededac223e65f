import Foundation

/// Runs the built `srtool` binary from the repository root, as a user would.
public enum CLI {
    public struct Result {
        public var stdout: String
        public var stderr: String
        public var code: Int32
        /// The stderr lines (no trailing empty line).
        public var errorLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    public static var binary: URL { executable("srtool") }

    /// A product of the same build (`srtool`, the example `explain-image`).
    public static func executable(_ name: String) -> URL {
        // The test bundle sits beside the products of the same build.
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return Fixtures.root.deletingLastPathComponent().appendingPathComponent(".build/debug/" + name)
    }

    /// Runs srtool (or another `program` of the build) with `arguments`; `addressSpaceLimit` (KiB) runs it under `ulimit -v`, as
    /// a memory-capped container or cluster job would.
    public static func run(_ arguments: [String], program: String = "srtool", timeout: TimeInterval = 60,
                           environment: [String: String] = [:], addressSpaceLimit: Int? = nil, stdin: FileHandle? = nil) throws -> Result {
        let binary = executable(program)
        let process = Process()
        if let limit = addressSpaceLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -v \(limit) && exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        if let stdin { process.standardInput = stdin }
        process.currentDirectoryURL = Fixtures.root.deletingLastPathComponent()
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = Future { out.fileHandleForReading.readDataToEndOfFile() }
        let errData = Future { err.fileHandleForReading.readDataToEndOfFile() }
        // A hanging srtool is killed after `timeout` seconds, so the test fails instead of
        // hanging; it then reports the signal as its code.
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return Result(stdout: String(decoding: outData.value, as: UTF8.self),
                      stderr: String(decoding: errData.value, as: UTF8.self), code: process.terminationStatus)
    }

    /// Runs `srtool ARGUMENTS` (one shell word string) with stderr on a pseudo-terminal made
    /// by util-linux `script`, from the repository root; `SRTOOL_PROGRESS_AFTER=0` draws
    /// progress lines from the start. The terminal's text (stdout and stderr) and the status.
    public static func runOnTerminal(_ arguments: String) throws -> (text: String, status: Int32) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", "SRTOOL_PROGRESS_AFTER=0 \(binary.path) \(arguments)", "/dev/null"]
        p.currentDirectoryURL = Fixtures.root.deletingLastPathComponent()
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (text, p.terminationStatus)
    }

    /// Reads a pipe on another thread so neither pipe fills up.
    final class Future: @unchecked Sendable {
        private var result = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ body: @escaping @Sendable () -> Data) {
            Thread.detachNewThread { [self] in
                result = body()
                done.signal()
            }
        }
        var value: Data {
            done.wait()
            done.signal()
            return result
        }
    }
}

/// Text snapshots under Tests/<target>/Snapshots; `SRTOOL_RECORD_SNAPSHOTS=1` rewrites them.
public func assertSnapshot(_ text: String, named name: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
    let dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appendingPathComponent("Snapshots")
    let url = dir.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["SRTOOL_RECORD_SNAPSHOTS"] != nil {
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try? Data(text.utf8).write(to: url)
        return nil
    }
    guard let data = try? Data(contentsOf: url) else { return "no snapshot \(name) (record with SRTOOL_RECORD_SNAPSHOTS=1)" }
    let want = String(decoding: data, as: UTF8.self)
    guard want != text else { return nil }
    return "snapshot \(name) differs:\n--- want\n\(want)\n--- got\n\(text)"
}

/// JSON text with every non-integer number rounded to 4 significant digits, keys sorted:
/// snapshots of numeric reports then do not depend on the last bits of a BLAS kernel.
public func roundedJSON(_ text: String) -> String {
    func round(_ v: Any) -> Any {
        switch v {
        case let d as [String: Any]: return d.mapValues(round)
        case let a as [Any]: return a.map(round)
        case is Bool: return v
        case let n as NSNumber:
            let x = n.doubleValue
            if x == x.rounded() && abs(x) < 1e15 { return n }
            return Double(String(format: "%.4g", x)) ?? x
        default: return v
        }
    }
    guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
          let data = try? JSONSerialization.data(withJSONObject: round(obj), options: [.prettyPrinted, .sortedKeys]) else {
        return text
    }
    return String(decoding: data, as: UTF8.self)
}
