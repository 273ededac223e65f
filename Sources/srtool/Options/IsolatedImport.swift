import ArgumentParser
import Foundation
import SRCore
import SRFormats

/// libhdf5 is C and outside Swift's safety: fuzzing made it spin forever on a crafted
/// file (its global-heap reader, H5HG_read). So a model read through libhdf5 (Caffe-HDF5,
/// Keras .h5/.keras) is imported by a child srtool (`srtool _import`), which writes a
/// temporary .srm that this process maps. The child's stderr comes through a pipe: after a
/// success its notices are passed on; a child that dies on a signal or outlives its time
/// limit becomes one error line and exit 65 (what glibc or the runtime printed as it died,
/// e.g. `free(): invalid size`, is dropped); a child's own error line and exit code pass
/// through unchanged. The child dies with its parent (`PR_SET_PDEATHSIG`) and has a CPU-time
/// limit of its own (`RLIMIT_CPU`, a little above the parent's timeout), so no kill of
/// srtool — a test harness, a CI timeout, a cluster scheduler — leaves a child spinning.
enum IsolatedImport {
    static var inChild: Bool { IsolatedChild.inChild }

    /// Seconds the child may take: `SRTOOL_HDF5_TIMEOUT`, else 20 s plus 1 s per 20 MB.
    static func timeLimit(for path: String) -> Double {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return IsolatedChild.timeLimit(bytes: size)
    }

    static func load(_ model: ModelArguments) throws -> Graph {
        try IsolatedChild.inPrivateFolder { folder in
            let tmp = folder + "/model.srm"
            let lines = try IsolatedChild.run(arguments(model, output: tmp), timeLimit: timeLimit(for: model.model), subject: model.model)
            for line in lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            return try SRMFile.load(path: tmp)
        }
    }

    /// `srtool _import MODEL OUTPUT` with the model options the child needs.
    private static func arguments(_ model: ModelArguments, output tmp: String) -> [String] {
        var arguments = ["_import", model.model, tmp]
        if let p = model.prototxt { arguments += ["--prototxt", p] }
        if let w = model.weights { arguments += ["--weights", w] }
        if let c = model.config { arguments += ["--config", c] }
        if let s = model.inputShape { arguments += ["--input-shape", s] }
        arguments += ["--max-tensor-elements", "\(model.maxTensorElements)", "--max-nodes", "\(model.maxNodes)"]
        return arguments
    }
}

/// A child srtool that reads files through libhdf5 (`_import`, `_merge`) on behalf of
/// this one, with the limits `IsolatedImport` describes: a time limit here, death with its
/// parent and a CPU-time limit there; a crash or hang becomes one error line and exit 65,
/// the child's own error line and exit code pass through.
enum IsolatedChild {
    static let variable = "SRTOOL_IMPORT_CHILD"
    static var inChild: Bool { ProcessInfo.processInfo.environment[variable] != nil }

    /// A child's own failure: its error line (`srtool: error: …`) and exit code.
    struct Failed: Error { let code: Int32; let line: String }

    /// Seconds a child reading `bytes` may take: `SRTOOL_HDF5_TIMEOUT`, else 20 s plus 1 s per 20 MB.
    static func timeLimit(bytes: Int) -> Double {
        if let s = ProcessInfo.processInfo.environment["SRTOOL_HDF5_TIMEOUT"], let v = Double(s), v > 0 { return v }
        return 20 + Double(bytes) / 20e6
    }

    /// `body` with a private temporary folder, removed afterwards: a killed child may leave
    /// a half-written file there.
    static func inPrivateFolder<T>(_ body: (String) throws -> T) throws -> T {
        let folder = NSTemporaryDirectory() + "/srtool-child-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot create a temporary folder \(folder)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try body(folder)
    }

    /// Runs `srtool arguments…` and returns its stderr lines; `subject` names what it reads
    /// in the error lines.
    static func run(_ arguments: [String], timeLimit limit: Double, subject: String) throws -> [String] {
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
            guard child.terminationStatus == 0 else {
                let line = lines.last { $0.hasPrefix("srtool: error: ") }
                    ?? "srtool: error: a child srtool reading \(subject) failed with exit code \(child.terminationStatus)"
                throw Failed(code: child.terminationStatus, line: line)
            }
            return lines
        @unknown default:
            throw SRError.internalError("a child srtool ended in an unknown way")
        }
    }

    /// In the child: die with the parent, and stop after the CPU time it was given.
    static func enter() {
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

/// `srtool _import MODEL OUT.srm`: the child side of `IsolatedImport` (not listed in help).
struct ImportChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_import", shouldDisplay: false)

    @OptionGroup var modelArguments: ModelArguments

    @Argument var output: String

    func run() throws {
        IsolatedChild.enter()
        try SRMFile.write(try modelArguments.load(), to: output)
    }
}
