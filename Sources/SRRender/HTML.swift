/// HTML built from pieces that cannot carry markup by accident: text and attribute values
/// are always escaped; tags, attribute names and fixed markup are `StaticString`s written
/// in srtool's source. A model's node names, labels and file names reach the report only
/// as text, never as markup (a node named `<img onerror=…>` shows as those characters).
public struct HTML {
    public private(set) var markup: String

    private init(markup: String) { self.markup = markup }

    /// Escaped text (`&`, `<`, `>`, `"`, `'`).
    public static func text(_ s: String) -> HTML { HTML(markup: escape(s)) }

    /// Markup from srtool's own source (a style sheet, a doctype).
    public static func trusted(_ s: StaticString) -> HTML { HTML(markup: s.description) }

    /// `<tag a="v"…>children</tag>`; void elements (`img`, `meta`, `circle`, `line`…) take
    /// no children and are closed as XML allows, which SVG needs.
    public static func element(_ tag: StaticString, _ attributes: [(StaticString, String)] = [], _ children: [HTML] = []) -> HTML {
        var m = "<\(tag)"
        for (name, value) in attributes { m += " \(name)=\"\(escape(value))\"" }
        if children.isEmpty && voidTags.contains(tag.description) { return HTML(markup: m + "/>") }
        m += ">"
        for c in children { m += c.markup }
        return HTML(markup: m + "</\(tag)>")
    }

    /// Escaped text that may wrap after `/`, `.`, `_`, `-` and `:` (`<wbr>`), so a long layer
    /// name breaks between its parts rather than mid-word.
    public static func breakable(_ s: String) -> HTML {
        var m = ""
        for c in s {
            m += escape(String(c))
            if "/._-:".contains(c) { m += "<wbr>" }
        }
        return HTML(markup: m)
    }

    public static func + (a: HTML, b: HTML) -> HTML { HTML(markup: a.markup + b.markup) }

    public static func joined(_ parts: [HTML]) -> HTML { HTML(markup: parts.map(\.markup).joined()) }

    private static let voidTags: Set<String> = ["img", "meta", "br", "circle", "line", "polyline", "rect", "stop"]

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
