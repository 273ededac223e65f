import ArgumentParser
import Foundation
import SRCore
import SRFormats
import SRRuntime

/// The CLI entry point: parses, runs, and turns every error into one stderr line and the
/// documented exit code (`ExitCode+SRError.swift`).
#if SRTOOL_X86_64_V3
// The kernels use AVX2 and FMA: checked before any of their code runs.
if !LinuxSystem.cpuRunsKernels {
    Log.error("this srtool was built for CPUs with AVX2 and FMA (x86-64-v3), which this one lacks; rebuild it with SRTOOL_PORTABLE=1 swift build -c release")
    exit(69)
}
#endif
// OpenBLAS picks its kernels when it loads; when it fell back to generic ones on a CPU it
// does not know, start again with the right family in the environment (BLAS.betterCoreType).
if let core = BLAS.betterCoreType() {
    setenv("OPENBLAS_CORETYPE", core, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
}
// srtool's own workers parallelise; each BLAS call runs on the worker that makes it.
BLAS.useSingleThreadedKernels()
setvbuf(stdout, nil, _IOFBF, 1 << 16)
// Reading a model frees large weights it copied; they go back to the system at once. Once
// the model is read, freed memory stays for the next layer (ModelArguments.load).
LinuxSystem.unmapFreedMemory()
// An allocation the run budget did not foresee fails as one line and exit 71, not a trap.
TensorStorage.outOfMemory = { bytes in
    fflush(stdout)
    Log.error("out of memory: cannot allocate \(bytes == .max ? "more than 2^63" : "\(bytes)") bytes (lower --max-memory, or give srtool more memory)")
    exit(71)
}
// A child srtool reading a model through libhdf5 does that here and exits (SRFormats'
// ModelLoader); it has passed the checks above, like any srtool.
ModelLoader.serveIsolatedChildIfRequested()
do {
    var command = try SRTool.parseAsRoot()
    try command.run()
    fflush(stdout)
} catch let error as SRError {
    fflush(stdout)
    Log.error(error.message)
    exit(error.exitCode)
} catch let failed as IsolatedChild.Failed {
    // A child srtool (`_merge`, `_read-attributions`, or one that died out of memory) said
    // why in its error line, which is passed on as it was, with its exit code.
    fflush(stdout)
    Log.info(failed.stderr.last { $0.hasPrefix("srtool: error: ") }
             ?? "srtool: error: a child srtool reading \(failed.subject) failed with exit code \(failed.code)")
    exit(failed.code)
} catch {
    fflush(stdout)
    // --help and --version end here too, printed as ArgumentParser prints them.
    let code = SRTool.exitCode(for: error)
    if code == .success { SRTool.exit(withError: error) }
    // A usage error is one line like every other error: ArgumentParser's message without
    // its "Error: " prefix and the usage lines after it; a list of valid values it writes
    // as bullets below the message joins the line.
    let lines = SRTool.message(for: error).split(separator: "\n").map(String.init)
    var first = lines.first ?? "\(error)"
    // A list of valid values comes as bullets below the message (long lists) or quoted with
    // a final "or" / "and" (short ones): both become one plain comma-separated list on the line.
    if let range = first.range(of: " one of the following:"), range.upperBound == first.endIndex {
        let values = lines.dropFirst().prefix { $0.hasPrefix("  - ") }.map { $0.dropFirst(4) }
        first = String(first[..<range.lowerBound]) + " one of " + values.joined(separator: ", ")
    } else if let range = first.range(of: ". Please provide one of '"), first.hasSuffix("'.") {
        let list = first[first.index(before: range.upperBound)...].dropLast()
        let values = list.replacingOccurrences(of: "' or '", with: "', '").replacingOccurrences(of: "' and '", with: "', '").split(separator: ",")
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "' ")) }
        first = String(first[..<range.lowerBound]) + ". Please provide one of " + values.joined(separator: ", ")
    }
    Log.error(first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first)
    exit(code == .validationFailure ? 64 : 70)
}
