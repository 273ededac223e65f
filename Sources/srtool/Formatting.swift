import ArgumentParser
import Foundation
import SRCore

func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

/// 1234567 → "1,234,567".
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// "12.3 KB", "1.23 MB", "13,500 MB" (decimal units, three significant digits below 1,000 MB).
func byteSize(_ bytes: Int) -> String {
    let mb = Double(bytes) / 1e6
    if mb < 1 { return String(format: "%.3g KB", Double(bytes) / 1e3) }
    return mb >= 1000 ? "\(grouped(Int(mb.rounded()))) MB" : String(format: "%.3g MB", mb)
}

/// Four significant digits, compact.
func number(_ v: Float) -> String {
    if v.isNaN { return "nan" }
    return String(format: "%.4g", Double(v))
}

/// Left- or right-aligned columns separated by two spaces; cells (names from files) are
/// escaped for the terminal.
func formatTable(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
    let rows = rows.map { $0.map(Escape.terminal) }
    let widths = rows.reduce(into: [Int]()) { w, row in
        for (i, cell) in row.enumerated() {
            if i >= w.count { w.append(0) }
            w[i] = max(w[i], cell.count)
        }
    }
    return rows.map { row in
        row.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            return rightAligned.contains(i) ? pad + cell : cell + (i == row.count - 1 ? "" : pad)
        }.joined(separator: "  ")
    }
}

/// Stable JSON: sorted keys, pretty-printed.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return Escape.json(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Refuses an output path whose extension says another format than srtool writes there
/// (`-o heat.jpg` for a PNG, `--save map.png` for a `.npy`).
func checkOutputName(_ path: String?, option: String, format: String, extensions: [String]) throws {
    guard let path, path != "-" else { return }
    // Devices and FIFOs take any name; a target that cannot be written at all (a folder)
    // is refused by the write itself, with exit 73.
    guard case .replace = try? OutputTarget(path) else { return }
    guard extensions.contains(where: { path.lowercased().hasSuffix($0) }) else {
        throw ValidationError("\(option) \(path): srtool writes \(format) there; name the file \(extensions.joined(separator: " or "))")
    }
}
