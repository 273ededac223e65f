import Foundation

/// Names and strings that come from files (node, tensor and layer names, labels, paths)
/// are hostile: each is escaped where it goes. HTML is escaped by SRRender's `HTML`
/// builder; this file covers the terminal and file names.
enum Escape {
    /// One line of text for a terminal: control characters (C0, DEL, C1, and the Unicode
    /// line and bidi controls that could reorder what is shown) become `\n`, `\r`, `\t`,
    /// `\e` or `\u{XX}`, so a name can neither break the line nor send escape sequences.
    static func terminal(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for s in text.unicodeScalars {
            guard isControl(s) else { out.unicodeScalars.append(s); continue }
            switch s {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{1B}": out += "\\e"
            default: out += "\\u{\(String(s.value, radix: 16, uppercase: true))}"
            }
        }
        return out
    }

    /// JSON text whose strings hold no raw control characters either: those the encoder
    /// leaves (DEL, C1, the Unicode line and bidi controls) become `\uXXXX`, still valid
    /// JSON (they can only occur inside strings).
    static func json(_ text: String) -> String {
        // C0 characters are escaped by the encoder inside strings; outside, they are its layout.
        func leftByEncoder(_ s: Unicode.Scalar) -> Bool { s.value >= 0x20 && isControl(s) }
        guard text.unicodeScalars.contains(where: leftByEncoder) else { return text }
        var out = ""
        for s in text.unicodeScalars {
            if leftByEncoder(s) { out += String(format: "\\u%04X", s.value) } else { out.unicodeScalars.append(s) }
        }
        return out
    }

    private static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}

/// Tensor and layer names as file names in one output folder: characters that are unsafe
/// or confusing in a file name (`/`, `\`, `:`, control characters, and a leading `.` or
/// `-`) become `_`, a name is cut to 150 bytes, an empty one becomes `_`, and names that
/// end up equal (also equal but for case) get `~2`, `~3`, … so no file overwrites another.
struct FileNames {
    private var used = Set<String>()

    mutating func name(for text: String, extension ext: String) -> String {
        var base = ""
        for c in text {
            let unsafe = c == "/" || c == "\\" || c == ":" || c.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
            let piece = unsafe || (base.isEmpty && (c == "." || c == "-")) ? "_" : String(c)
            guard base.utf8.count + piece.utf8.count <= 150 else { break }
            base += piece
        }
        if base.isEmpty { base = "_" }
        var candidate = base + ext, n = 1
        while used.contains(candidate.lowercased()) {
            n += 1
            candidate = "\(base)~\(n)\(ext)"
        }
        used.insert(candidate.lowercased())
        return candidate
    }
}
