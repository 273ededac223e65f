/// The one error type of srtool. Each case maps to one CLI exit code (see the CLI's
/// `ExitCode+SRError.swift`); the message names the layer/node, the op and, where
/// known, the file offset.
public enum SRError: Error, Equatable, Codable, CustomStringConvertible {
    /// Wrong use of an API or command line (exit 64).
    case usage(String)
    /// A file or value that does not follow its format (exit 65).
    case malformed(String)
    /// A file that is missing or cannot be read (exit 66).
    case missing(String)
    /// A valid file using an op, dtype or feature srtool does not implement (exit 69).
    case unsupported(String)
    /// An output that cannot be written (exit 73).
    case cannotWrite(String)
    /// A check the user asked for failed (exit 1).
    case checkFailed(String)
    /// A bug in srtool (exit 70).
    case internalError(String)

    public var message: String {
        switch self {
        case .usage(let m), .malformed(let m), .missing(let m), .unsupported(let m),
             .cannotWrite(let m), .checkFailed(let m), .internalError(let m):
            return m
        }
    }

    public var description: String { message }
}
