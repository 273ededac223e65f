import ArgumentParser
import Foundation
import SRCore

/// The CLI entry point: parses, runs, and turns every error into one stderr line and the
/// documented exit code (`ExitCode+SRError.swift`).
setvbuf(stdout, nil, _IOFBF, 1 << 16)
do {
    var command = try SRTool.parseAsRoot()
    try command.run()
    fflush(stdout)
} catch let error as SRError {
    fflush(stdout)
    Log.error(error.message)
    exit(error.exitCode)
} catch {
    fflush(stdout)
    SRTool.exit(withError: error)
}
