import Foundation

/// The self-contained HTML report of `srtool render`: every image embedded as a data URI,
/// the conservation chart as inline SVG, so the one file opens offline.
public struct Report {
    public struct Prediction { public var label: String; public var probability: Float
        public init(label: String, probability: Float) { self.label = label; self.probability = probability } }
    public struct Figure { public var title: String; public var png: Data
        public init(title: String, png: Data) { self.title = title; self.png = png } }
    /// What a colour means: the map's colours from `low` to `high`.
    public struct Colorbar { public var title: String; public var colormap: Colormap; public var low: String; public var high: String
        public init(title: String, colormap: Colormap, low: String, high: String) {
            self.title = title; self.colormap = colormap; self.low = low; self.high = high
        } }

    public var title: String
    public var subtitle: String
    public var predictions: [Prediction]
    /// Input, heatmap, SR map…: shown side by side at the top.
    public var figures: [Figure]
    /// The colour bar of the figures.
    public var figureColors: Colorbar?
    /// Per-layer tiles in network order, the heading saying what they show, and their colours.
    public var layers: [Figure]
    public var layerTitle: String
    public var layerColors: Colorbar?
    /// Σ relevance per layer (network order) and the start value, for the chart.
    public var conservation: [(String, Double)]
    public var start: Double

    public init(title: String, subtitle: String, predictions: [Prediction], figures: [Figure], figureColors: Colorbar?,
                layers: [Figure], layerTitle: String, layerColors: Colorbar?, conservation: [(String, Double)], start: Double) {
        self.title = title; self.subtitle = subtitle; self.predictions = predictions; self.figures = figures
        self.figureColors = figureColors; self.layers = layers; self.layerTitle = layerTitle; self.layerColors = layerColors
        self.conservation = conservation; self.start = start
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
                H.element("figcaption", [], [H.breakable(f.title)]),
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
            figure{display:inline-block;margin:0 12px 12px 0;text-align:center;vertical-align:top} figure.colorbar{display:block;text-align:left} figcaption{font-size:12px;color:#444;max-width:220px;overflow-wrap:break-word}
            img{image-rendering:pixelated;border:1px solid #ddd;background:#fff}
            table{border-collapse:collapse} td{padding:2px 10px 2px 0;font-size:14px} .bar{height:10px;background:#d33}
            svg text{font-size:10px;fill:#444}
            """)]),
        ])
        let body = H.element("body", [], [
            H.element("h1", [], [H.text(title)]), H.element("p", [("class", "sub")], [H.text(subtitle)]),
            H.element("h2", [], [H.text("Prediction")]), H.element("table", [], rows),
            H.element("h2", [], [H.text("Explanation")]), H.joined(figures.map { img($0, size: 224) }),
            figureColors.map { colorbar($0, id: "cb-figures") } ?? H.text(""),
            H.element("h2", [], [H.text(layerTitle)]), layerColors.map { colorbar($0, id: "cb-layers") } ?? H.text(""),
            H.joined(layers.map { img($0, size: 128) }),
            H.element("h2", [], [H.text("Conservation of LRP relevance")]), chart,
        ])
        return (H.trusted("<!DOCTYPE html>\n") + H.element("html", [("lang", "en")], [head, body])).markup + "\n"
    }

    /// A horizontal colour bar: the colour map's 256 colours as SVG gradient stops, the
    /// values at its ends written beside it.
    func colorbar(_ c: Colorbar, id: StaticString) -> HTML {
        typealias H = HTML
        let stops = stride(from: 0, through: 255, by: 17).map { i -> HTML in
            let rgb = c.colormap.palette[i]
            return H.element("stop", [("offset", String(format: "%.3f", Double(i) / 255)),
                                      ("stop-color", String(format: "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]))])
        }
        let url = "url(#\(id))"
        return H.element("figure", [("class", "colorbar")], [
            H.element("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", "360"), ("height", "34"), ("role", "img"),
                              ("aria-label", c.title)], [
                H.element("defs", [], [H.element("linearGradient", [("id", id.description)], stops)]),
                H.element("rect", [("x", "0"), ("y", "0"), ("width", "360"), ("height", "14"), ("fill", url), ("stroke", "#999")]),
                H.element("text", [("x", "0"), ("y", "28")], [H.text(c.low)]),
                H.element("text", [("x", "360"), ("y", "28"), ("text-anchor", "end")], [H.text(c.high)]),
            ]),
            H.element("figcaption", [], [H.text(c.title)]),
        ])
    }

    /// Σ relevance per layer against the start value, as an inline SVG line chart: the
    /// layers on the x axis (names written below it, thinned to at most 24), Σ R on the
    /// y axis; each point's tooltip names its layer and value.
    var chart: HTML {
        typealias H = HTML
        guard !conservation.isEmpty else { return H.element("p", [], [H.text("No conservation data.")]) }
        let w = 760.0, h = 300.0, left = 64.0, right = 20.0, top = 12.0, bottom = 110.0
        let plotBottom = h - bottom
        let values = conservation.map(\.1) + [start]
        let spread = max((values.max() ?? 1) - (values.min() ?? 0), abs(start) * 0.05, 1e-9)
        let lo = (values.min() ?? 0) - spread * 0.1, hi = (values.max() ?? 1) + spread * 0.1
        func yv(_ v: Double) -> Double { plotBottom - (v - lo) / (hi - lo) * (plotBottom - top) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let step = conservation.count > 1 ? (w - left - right) / Double(conservation.count - 1) : 0
        func xi(_ i: Int) -> Double { left + Double(i) * step }
        let points = conservation.indices.map { "\(f(xi($0))),\(f(yv(conservation[$0].1)))" }
        let dots = conservation.enumerated().map { i, p in
            H.element("circle", [("cx", f(xi(i))), ("cy", f(yv(p.1))), ("r", "2.5"), ("fill", "#d33")],
                      [H.element("title", [], [H.text("\(p.0): Σ R \(String(format: "%.4g", p.1))")])])
        }
        // Layer names under the axis, rotated; every k-th when there are many.
        let every = max(1, (conservation.count + 23) / 24)
        let names = conservation.indices.filter { $0 % every == 0 || $0 == conservation.count - 1 }.map { i -> HTML in
            let name = conservation[i].0
            let shown = name.count > 28 ? "…" + name.suffix(27) : name
            return H.element("text", [("x", f(xi(i))), ("y", f(plotBottom + 12)), ("text-anchor", "end"),
                                      ("transform", "rotate(-50 \(f(xi(i))) \(f(plotBottom + 12)))")],
                             [H.element("title", [], [H.text(name)]), H.text(shown)])
        }
        let ticks = [lo, (lo + hi) / 2, hi].map { v in
            H.element("text", [("x", f(left - 6)), ("y", f(yv(v) + 3)), ("text-anchor", "end")], [H.text(String(format: "%.3g", v))])
        }
        return H.element("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", "\(Int(w))"), ("height", "\(Int(h))"),
                                 ("role", "img"), ("aria-label", "Σ relevance per layer, input to output")], [
            H.element("line", [("x1", f(left)), ("y1", f(yv(start))), ("x2", f(w - right)), ("y2", f(yv(start))),
                               ("stroke", "#888"), ("stroke-dasharray", "4 3")]),
            H.element("text", [("x", f(left + 4)), ("y", f(yv(start) - 4))], [H.text("start (the explained score) \(String(format: "%.4g", start))")]),
            H.element("line", [("x1", f(left)), ("y1", f(top)), ("x2", f(left)), ("y2", f(plotBottom)), ("stroke", "#999")]),
            H.element("line", [("x1", f(left)), ("y1", f(plotBottom)), ("x2", f(w - right)), ("y2", f(plotBottom)), ("stroke", "#999")]),
            H.joined(ticks),
            H.element("text", [("x", "12"), ("y", f((top + plotBottom) / 2)), ("text-anchor", "middle"),
                               ("transform", "rotate(-90 12 \(f((top + plotBottom) / 2)))")], [H.text("Σ relevance")]),
            H.element("polyline", [("fill", "none"), ("stroke", "#d33"), ("stroke-width", "1.5"), ("points", points.joined(separator: " "))]),
            H.joined(dots), H.joined(names),
            H.element("text", [("x", f((left + w - right) / 2)), ("y", f(h - 4)), ("text-anchor", "middle")],
                      [H.text("layer (input → output)")]),
        ])
    }
}
