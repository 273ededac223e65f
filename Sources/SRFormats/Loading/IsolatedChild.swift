import Foundation
import SRCore

/// A child of this process — the same executable, `/proc/self/exe`, with other arguments —
/// that reads files through libhdf5 on its behalf (`ModelLoader`'s `_import`, srtool's
/// `_merge` and `_read-attributions`). libhdf5 is C and outside Swift's safety: fuzzing
/// made it spin forever on a crafted file (its global-heap reader, H5HG_read). So the child
/// has a time limit here, and dies with its parent (`PR_SET_PDEATHSIG`) and has a CPU-time
/// limit of its own (`RLIMIT_CPU`, a little above the parent's timeout) there: no kill of
/// the parent — a test harness, a CI timeout, a cluster scheduler — leaves a child
/// spinning. A child that dies on a signal or outlives its time limit becomes one
/// `SRError.malformed` (what glibc or the runtime printed as it died, e.g.
/// `free(): invalid size`, is dropped); a child that exits with an error is `Failed`.
public enum IsolatedChild {
    static let variable = "SRTOOL_IMPORT_CHILD"

    /// Whether this process is such a child.
    public static var inChild: Bool { ProcessInfo.processInfo.environment[variable] != nil }

    /// A child's own failure: its exit code and its stderr lines (the last of which is
    /// usually its error line); `subject` names what it read.
    public struct Failed: Error, CustomStringConvertible {
        public let code: Int32
        public let stderr: [String]
        public let subject: String
        public var description: String {
            stderr.last ?? "a child process reading \(subject) failed with exit code \(code)"
        }
    }

    /// Seconds a child reading `bytes` may take: `SRTOOL_HDF5_TIMEOUT`, else 20 s plus 1 s per 20 MB.
    public static func timeLimit(bytes: Int) -> Double {
        if let s = ProcessInfo.processInfo.environment["SRTOOL_HDF5_TIMEOUT"], let v = Double(s), v > 0 { return v }
        return 20 + Double(bytes) / 20e6
    }

    /// Seconds a child reading the file at `path` may take (`timeLimit(bytes:)` of its size).
    public static func timeLimit(forFile path: String) -> Double {
        timeLimit(bytes: (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
    }

    /// `body` with a private temporary folder, removed afterwards: a killed child may leave
    /// a half-written file there.
    public static func inPrivateFolder<T>(_ body: (String) throws -> T) throws -> T {
        let folder = NSTemporaryDirectory() + "/srtool-child-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot create a temporary folder \(folder)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try body(folder)
    }

    /// Runs this executable with `arguments` as a child and returns its stderr lines;
    /// `subject` names what it reads in the error lines.
    public static func run(_ arguments: [String], timeLimit limit: Double, subject: String) throws -> [String] {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env[variable] = "\(getpid()),\(Int(limit.rounded(.up)) + 2)"
        // A crash in libhdf5 is reported by this process in one line, not by the Swift
        // runtime's backtracer in the child.
        env["SWIFT_BACKTRACE"] = "enable=no"
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        child.standardError = errors
        let done = DispatchSemaphore(value: 0)
        child.terminationHandler = { _ in done.signal() }
        do { try child.run() } catch {
            throw SRError.internalError("cannot start a child srtool to read \(subject): \(error.localizedDescription)")
        }
        // Read on another thread, so that a child writing much cannot block on a full pipe.
        let stderrText = ChildOutput(errors.fileHandleForReading)
        if done.wait(timeout: .now() + limit) == .timedOut {
            kill(child.processIdentifier, SIGKILL)
            done.wait()
            throw SRError.malformed("\(subject): reading it did not finish within \(Int(limit)) s (libhdf5 hangs on some damaged files); refusing it")
        }
        switch child.terminationReason {
        case .uncaughtSignal:
            throw SRError.malformed("\(subject): libhdf5 crashed reading it (signal \(child.terminationStatus)); refusing it")
        case .exit:
            let lines = stderrText.lines
            guard child.terminationStatus == 0 else { throw Failed(code: child.terminationStatus, stderr: lines, subject: subject) }
            return lines
        @unknown default:
            throw SRError.internalError("a child srtool ended in an unknown way")
        }
    }

    /// In the child, before it reads anything: die with the parent, and stop after the CPU
    /// time it was given.
    public static func enter() {
        // SRTOOL_IMPORT_CHILD = "<parent pid>,<CPU seconds>"
        let parts = (ProcessInfo.processInfo.environment[variable] ?? "").split(separator: ",").compactMap { Int($0) }
        if parts.count == 2 {
            LinuxSystem.dieWithParent(pid_t(parts[0]))
            LinuxSystem.limitCPUTime(seconds: parts[1])
        }
    }
}

/// Everything a pipe delivers until its writer closes, collected on a thread of its own.
final class ChildOutput: @unchecked Sendable {
    private var data = Data()
    private let finished = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            finished.signal()
        }
    }

    /// The lines written, once the writer has closed the pipe (no trailing empty line).
    var lines: [String] {
        finished.wait()
        finished.signal()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
