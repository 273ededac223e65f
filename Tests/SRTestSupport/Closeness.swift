import Foundation
import SRCore

/// The one closeness check of the test suite: `|got − want| ≤ atol + rtol·|want|`.
/// On failure the message gives the count of bad elements, the first few
/// `(index, got, want)` and the largest difference.
public func closeness(_ got: [Float], _ want: [Float], atol: Float, rtol: Float) -> String? {
    guard got.count == want.count else { return "count \(got.count) ≠ \(want.count)" }
    var bad: [(Int, Float, Float)] = []
    var worst: Float = 0
    var count = 0
    for i in 0..<got.count {
        let d = abs(got[i] - want[i])
        worst = max(worst, d.isNaN ? .infinity : d)
        if !(d <= atol + rtol * abs(want[i])) {
            count += 1
            if bad.count < 5 { bad.append((i, got[i], want[i])) }
        }
    }
    guard count > 0 else { return nil }
    let sample = bad.map { "(\($0.0), got \($0.1), want \($0.2))" }.joined(separator: " ")
    return "NOT OK: \(count)/\(got.count) elements differ; max diff \(worst); first: \(sample)"
}

public func closeness(_ got: Tensor, _ want: Tensor, atol: Float, rtol: Float) -> String? {
    guard got.shape == want.shape else { return "shape \(got.shape) ≠ \(want.shape)" }
    return closeness(got.values, want.values, atol: atol, rtol: rtol)
}

/// Paths of the repository's fixtures.
public enum Fixtures {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.appendingPathComponent("Fixtures")
            }
        }
        return URL(fileURLWithPath: "Fixtures")
    }()

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}
