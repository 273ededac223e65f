import Foundation
import SRCore

/// A protobuf text-format document (a `.prototxt`) as a tree of fields with their source
/// positions. srtool parses the syntax itself so that an error names its line and column,
/// and so that fields outside its schema can be reported where they are; the values are
/// then decoded by the generated messages (swift-protobuf's text decoder).
struct Prototxt {
    struct Field {
        var name: String
        var line: Int
        var column: Int
        /// The field's source text (name through value), for decoding it alone.
        var range: Range<String.Index>
        /// Sub-fields when the value is a message.
        var children: [Field]?
    }

    let path: String
    let text: String
    let fields: [Field]

    init(path: String, text: String) throws {
        self.path = path
        self.text = text
        var parser = Parser(text: text, path: path)
        fields = try parser.message(closing: nil)
    }

    /// "file:line:column".
    func position(_ f: Field) -> String { "\((path as NSString).lastPathComponent):\(f.line):\(f.column)" }

    func source(_ f: Field) -> Substring { text[f.range] }

    /// The value of a scalar field, `name: "value"` (quotes removed), `name: 3` or a V1 enum.
    func value(_ f: Field) -> String {
        let field = source(f)
        guard let colon = field.firstIndex(of: ":") else { return "" }
        var v = field[field.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if let q = v.first, q == "\"" || q == "'", v.count >= 2 { v = String(v.dropFirst().dropLast()) }
        return v
    }

    private struct Parser {
        let text: String
        let path: String
        var scalars: [Unicode.Scalar]
        var indices: [String.Index]
        var i = 0
        var line = 1
        var lineStart = 0
        var depth = 0

        init(text: String, path: String) {
            self.text = text; self.path = path
            scalars = []; indices = []
            for idx in text.unicodeScalars.indices {
                scalars.append(text.unicodeScalars[idx]); indices.append(idx)
            }
            indices.append(text.endIndex)
        }

        func fail(_ message: String, at position: Int? = nil) -> SRError {
            let p = position ?? i
            var l = 1, start = 0
            for k in 0..<min(p, scalars.count) where scalars[k] == "\n" { l += 1; start = k + 1 }
            return SRError.malformed("\((path as NSString).lastPathComponent):\(l):\(p - start + 1): \(message)")
        }

        mutating func skipSpace() {
            while i < scalars.count {
                let c = scalars[i]
                if c == "#" {
                    while i < scalars.count && scalars[i] != "\n" { i += 1 }
                } else if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" {
                    if c == "\n" { line += 1; lineStart = i + 1 }
                    i += 1
                } else {
                    return
                }
            }
        }

        var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

        func describe(_ c: Unicode.Scalar?) -> String {
            guard let c else { return "the end of the file" }
            return "'\(Character(c))'"
        }

        static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
        }
        static func isIdent(_ c: Unicode.Scalar) -> Bool {
            isIdentStart(c) || (c >= "0" && c <= "9")
        }

        mutating func identifier() -> String? {
            guard let c = peek, Self.isIdentStart(c) else { return nil }
            let start = i
            while let c = peek, Self.isIdent(c) || c == "." { i += 1 }
            return String(String.UnicodeScalarView(scalars[start..<i]))
        }

        /// Fields up to `closing` (or the end of the text at the top level).
        mutating func message(closing: Unicode.Scalar?) throws -> [Field] {
            var fields: [Field] = []
            depth += 1
            defer { depth -= 1 }
            guard depth <= 64 else { throw fail("messages nested more than 64 deep") }
            while true {
                skipSpace()
                guard let c = peek else {
                    if closing != nil { throw fail("expected '}' before the end of the file") }
                    return fields
                }
                if let closing, c == closing { i += 1; return fields }
                if c == "[" { throw fail("extension fields ('[…]') are not supported") }
                let start = i, startLine = line, column = i - lineStart + 1
                guard let name = identifier() else {
                    throw fail("expected a field name, found \(describe(c))")
                }
                skipSpace()
                var children: [Field]?
                var end: Int?
                if peek == ":" {
                    i += 1
                    skipSpace()
                    if peek == "{" || peek == "<" {
                        children = try nested()
                    } else if peek == "[" {
                        try list()
                    } else {
                        end = try scalar(after: name)
                    }
                } else if peek == "{" || peek == "<" {
                    children = try nested()
                } else {
                    throw fail("expected ':' or '{' after '\(name)', found \(describe(peek))")
                }
                fields.append(Field(name: name, line: startLine, column: column,
                                    range: indices[start]..<indices[end ?? i], children: children))
                skipSpace()
                if peek == ";" || peek == "," { i += 1 }
            }
        }

        mutating func nested() throws -> [Field] {
            let open = peek
            i += 1
            return try message(closing: open == "<" ? ">" : "}")
        }

        mutating func list() throws {
            i += 1
            skipSpace()
            if peek == "]" { i += 1; return }
            while true {
                skipSpace()
                if peek == "{" || peek == "<" { _ = try nested() } else { try scalar(after: "list") }
                skipSpace()
                if peek == "," { i += 1; continue }
                if peek == "]" { i += 1; return }
                throw fail("expected ',' or ']' in a list, found \(describe(peek))")
            }
        }

        /// A number, identifier (enum value, true/false, inf/nan) or one or more adjacent
        /// quoted strings; returns where the value ends.
        @discardableResult
        mutating func scalar(after name: String) throws -> Int {
            guard let c = peek else { throw fail("expected a value for '\(name)', found the end of the file") }
            if c == "\"" || c == "'" {
                var end = i
                while let q = peek, q == "\"" || q == "'" {
                    let open = i
                    i += 1
                    while true {
                        guard let d = peek, d != "\n" else { throw fail("unterminated string", at: open) }
                        i += 1
                        if d == "\\" { guard peek != nil else { throw fail("unterminated string", at: open) }; i += 1 }
                        else if d == q { break }
                    }
                    end = i
                    skipSpace()
                }
                return end
            }
            if c == "-" || c == "+" { i += 1; skipSpace() }
            guard let d = peek, Self.isIdent(d) || d == "." else {
                throw fail("expected a value for '\(name)', found \(describe(peek))")
            }
            while let d = peek, Self.isIdent(d) || d == "." || ((d == "-" || d == "+") && (scalars[i - 1] == "e" || scalars[i - 1] == "E")) {
                i += 1
            }
            return i
        }
    }
}
