import Foundation

/// The self-contained HTML report of `srtool render`: every image embedded as a data URI,
/// the conservation chart as inline SVG, so the one file opens offline.
public struct Report {
    public struct Prediction { public var label: String; public var probability: Float
        public init(label: String, probability: Float) { self.label = label; self.probability = probability } }
    public struct Figure { public var title: String; public var png: Data
        public init(title: String, png: Data) { self.title = title; self.png = png } }

    public var title: String
    public var subtitle: String
    public var predictions: [Prediction]
    /// Input, heatmap, SR map…: shown side by side at the top.
    public var figures: [Figure]
    /// Per-layer tiles in network order.
    public var layers: [Figure]
    /// Σ relevance per layer (network order) and the start value, for the chart.
    public var conservation: [(String, Double)]
    public var start: Double

    public init(title: String, subtitle: String, predictions: [Prediction], figures: [Figure], layers: [Figure],
                conservation: [(String, Double)], start: Double) {
        self.title = title; self.subtitle = subtitle; self.predictions = predictions; self.figures = figures
        self.layers = layers; self.conservation = conservation; self.start = start
    }

    /// The page. Its Content-Security-Policy allows no script, no network and no frames:
    /// only its own inline style and embedded images, so even a name that slipped past
    /// the escaping could not act.
    public var html: String {
        typealias H = HTML
        func img(_ f: Figure, size: Int) -> HTML {
            H.element("figure", [], [
                H.element("img", [("alt", f.title), ("width", "\(size)"), ("height", "\(size)"),
                                  ("src", "data:image/png;base64," + f.png.base64EncodedString())]),
                H.element("figcaption", [], [H.text(f.title)]),
            ])
        }
        let rows = predictions.enumerated().map { i, p in
            H.element("tr", [], [
                H.element("td", [], [H.text("\(i + 1)")]), H.element("td", [], [H.text(p.label)]),
                H.element("td", [], [H.text(String(format: "%.4f", p.probability))]),
                H.element("td", [], [H.element("div", [("class", "bar"), ("style", "width:\(Int(p.probability * 200))px")])]),
            ])
        }
        let head = H.element("head", [], [
            H.element("meta", [("charset", "utf-8")]),
            H.element("meta", [("http-equiv", "Content-Security-Policy"),
                               ("content", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")]),
            H.element("title", [], [H.text(title)]),
            H.element("style", [], [H.trusted("""
            body{font-family:sans-serif;margin:24px;color:#222;background:#fafafa}
            h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} p.sub{color:#666;margin:0 0 16px}
            figure{display:inline-block;margin:0 12px 12px 0;text-align:center} figcaption{font-size:12px;color:#444;max-width:220px;word-break:break-all}
            img{image-rendering:pixelated;border:1px solid #ddd;background:#fff}
            table{border-collapse:collapse} td{padding:2px 10px 2px 0;font-size:14px} .bar{height:10px;background:#d33}
            svg text{font-size:10px;fill:#444}
            """)]),
        ])
        let body = H.element("body", [], [
            H.element("h1", [], [H.text(title)]), H.element("p", [("class", "sub")], [H.text(subtitle)]),
            H.element("h2", [], [H.text("Prediction")]), H.element("table", [], rows),
            H.element("h2", [], [H.text("Explanation")]), H.joined(figures.map { img($0, size: 224) }),
            H.element("h2", [], [H.text("LRP relevance per layer")]), H.joined(layers.map { img($0, size: 128) }),
            H.element("h2", [], [H.text("Conservation of LRP relevance")]), chart,
        ])
        return (H.trusted("<!DOCTYPE html>\n") + H.element("html", [("lang", "en")], [head, body])).markup + "\n"
    }

    /// Σ relevance per layer against the start value, as an inline SVG line chart; each
    /// point's tooltip names its layer.
    var chart: HTML {
        typealias H = HTML
        guard !conservation.isEmpty else { return H.element("p", [], [H.text("No conservation data.")]) }
        let w = 720.0, h = 220.0, left = 50.0, bottom = 30.0
        let values = conservation.map(\.1) + [start]
        let spread = max((values.max() ?? 1) - (values.min() ?? 0), abs(start) * 0.05, 1e-9)
        let lo = (values.min() ?? 0) - spread * 0.1, hi = (values.max() ?? 1) + spread * 0.1
        func y(_ v: Double) -> String { String(format: "%.1f", (h - bottom) - (v - lo) / (hi - lo) * (h - bottom - 10)) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let step = conservation.count > 1 ? (w - left - 10) / Double(conservation.count - 1) : 0
        let points = conservation.enumerated().map { i, p in "\(f(left + Double(i) * step)),\(y(p.1))" }
        let dots = conservation.enumerated().map { i, p in
            H.element("circle", [("cx", f(left + Double(i) * step)), ("cy", y(p.1)), ("r", "2.5"), ("fill", "#d33")],
                      [H.element("title", [], [H.text("\(p.0): \(String(format: "%.4g", p.1))")])])
        }
        func label(_ x: Double, _ y: String, _ text: String) -> HTML { H.element("text", [("x", f(x)), ("y", y)], [H.text(text)]) }
        return H.element("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", "\(Int(w))"), ("height", "\(Int(h))"),
                                 ("role", "img"), ("aria-label", "relevance per layer")], [
            H.element("line", [("x1", f(left)), ("y1", y(start)), ("x2", f(w - 10)), ("y2", y(start)),
                               ("stroke", "#888"), ("stroke-dasharray", "4 3")]),
            label(left + 4, String(format: "%.1f", Double(y(start)).map { $0 - 4 } ?? 0), "start \(String(format: "%.4g", start))"),
            H.element("line", [("x1", f(left)), ("y1", "10"), ("x2", f(left)), ("y2", f(h - bottom)), ("stroke", "#999")]),
            label(4, "14", String(format: "%.3g", hi)), label(4, f(h - bottom), String(format: "%.3g", lo)),
            H.element("polyline", [("fill", "none"), ("stroke", "#d33"), ("stroke-width", "1.5"), ("points", points.joined(separator: " "))]),
            H.joined(dots),
            label(left, f(h - 8), "input"), label(w - 60, f(h - 8), "output"),
        ])
    }
}
