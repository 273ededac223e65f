import SRCore

/// The one place errors become exit codes (README, "Exit codes"; docs/ARCHITECTURE.md, "Policies").
extension SRError {
    var exitCode: Int32 {
        switch self {
        case .checkFailed: 1
        case .usage: 64
        case .malformed: 65
        case .missing: 66
        case .unsupported: 69
        case .internalError: 70
        case .cannotWrite: 73
        }
    }
}
