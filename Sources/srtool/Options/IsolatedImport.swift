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
    static let childVariable = "SRTOOL_IMPORT_CHILD"
    static var inChild: Bool { ProcessInfo.processInfo.environment[childVariable] != nil }

    /// A child's own failure: its error line (`srtool: error: …`) and exit code.
    struct ChildFailed: Error { let code: Int32; let line: String }

    /// Seconds the child may take: `SRTOOL_HDF5_TIMEOUT`, else 20 s plus 1 s per 20 MB.
    static func timeLimit(for path: String) -> Double {
        if let s = ProcessInfo.processInfo.environment["SRTOOL_HDF5_TIMEOUT"], let v = Double(s), v > 0 { return v }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return 20 + Double(size) / 20e6
    }

    static func load(_ model: ModelArguments) throws -> Graph {
        var arguments = ["_import", model.model]
        if let p = model.prototxt { arguments += ["--prototxt", p] }
        if let w = model.weights { arguments += ["--weights", w] }
        if let c = model.config { arguments += ["--config", c] }
        if let s = model.inputShape { arguments += ["--input-shape", s] }
        arguments += ["--max-tensor-elements", "\(model.maxTensorElements)", "--max-nodes", "\(model.maxNodes)"]
        return try inChildFolder(reading: model.model) { folder in
            let tmp = folder + "/model.srm"
            try runChild(arguments: arguments + [tmp], reading: model.model)
            return try SRMFile.load(path: tmp)
        }
    }

    /// `body` with a private temporary folder, removed afterwards (a killed child may
    /// leave a half-written file there).
    static func inChildFolder<T>(reading path: String, _ body: (String) throws -> T) throws -> T {
        let folder = NSTemporaryDirectory() + "/srtool-import-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot create a temporary folder \(folder)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try body(folder)
    }

    /// Runs `srtool ARGUMENTS` as a child reading `path` through libhdf5, with the time limit,
    /// death signal and error mapping above.
    static func runChild(arguments: [String], reading path: String) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = arguments
        let limit = timeLimit(for: path)
        var env = ProcessInfo.processInfo.environment
        env[childVariable] = "\(getpid()),\(Int(limit.rounded(.up)) + 2)"
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
            throw SRError.internalError("cannot start a child srtool to read \(path): \(error.localizedDescription)")
        }
        // Read on another thread, so that a child writing much cannot block on a full pipe.
        let stderrText = ChildOutput(errors.fileHandleForReading)
        if done.wait(timeout: .now() + limit) == .timedOut {
            kill(child.processIdentifier, SIGKILL)
            done.wait()
            throw SRError.malformed("\(path): reading it did not finish within \(Int(limit)) s (libhdf5 hangs on some damaged files); refusing it")
        }
        switch child.terminationReason {
        case .uncaughtSignal:
            throw SRError.malformed("\(path): libhdf5 crashed reading it (signal \(child.terminationStatus)); refusing it")
        case .exit:
            let lines = stderrText.lines
            guard child.terminationStatus == 0 else {
                let line = lines.last { $0.hasPrefix("srtool: error: ") }
                    ?? "srtool: error: a child srtool reading \(path) failed with exit code \(child.terminationStatus)"
                throw ChildFailed(code: child.terminationStatus, line: line)
            }
            for line in lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        @unknown default:
            throw SRError.internalError("a child srtool ended in an unknown way")
        }
    }

    /// In the child: dies with its parent and keeps to its CPU-time limit.
    static func enterChild() {
        // SRTOOL_IMPORT_CHILD = "<parent pid>,<CPU seconds>"
        let parts = (ProcessInfo.processInfo.environment[childVariable] ?? "").split(separator: ",").compactMap { Int($0) }
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
        IsolatedImport.enterChild()
        try SRMFile.write(try modelArguments.load(), to: output)
    }
}
