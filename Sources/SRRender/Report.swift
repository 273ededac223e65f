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

    public var html: String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func img(_ f: Figure, size: Int) -> String {
            "<figure><img alt=\"\(esc(f.title))\" width=\"\(size)\" height=\"\(size)\" src=\"data:image/png;base64,\(f.png.base64EncodedString())\"><figcaption>\(esc(f.title))</figcaption></figure>"
        }
        let rows = predictions.enumerated().map { i, p in
            "<tr><td>\(i + 1)</td><td>\(esc(p.label))</td><td>\(String(format: "%.4f", p.probability))</td><td><div class=\"bar\" style=\"width:\(Int(p.probability * 200))px\"></div></td></tr>"
        }.joined()
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(esc(title))</title>
        <style>
        body{font-family:sans-serif;margin:24px;color:#222;background:#fafafa}
        h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} p.sub{color:#666;margin:0 0 16px}
        figure{display:inline-block;margin:0 12px 12px 0;text-align:center} figcaption{font-size:12px;color:#444;max-width:220px;word-break:break-all}
        img{image-rendering:pixelated;border:1px solid #ddd;background:#fff}
        table{border-collapse:collapse} td{padding:2px 10px 2px 0;font-size:14px} .bar{height:10px;background:#d33}
        svg text{font-size:10px;fill:#444}
        </style></head><body>
        <h1>\(esc(title))</h1><p class="sub">\(esc(subtitle))</p>
        <h2>Prediction</h2><table>\(rows)</table>
        <h2>Explanation</h2>\(figures.map { img($0, size: 224) }.joined())
        <h2>Relevance per layer</h2>\(layers.map { img($0, size: 128) }.joined())
        <h2>Conservation</h2>\(chart)
        <script>
        // Marks how many images decoded (checked by Tools/check_report in a headless browser).
        window.addEventListener("load", () => {
          const images = Array.from(document.images);
          document.body.dataset.imagesOk = images.filter(i => i.complete && i.naturalWidth > 0).length + "/" + images.length;
        });
        </script>
        </body></html>
        """
    }

    /// Σ relevance per layer against the start value, as an inline SVG line chart.
    var chart: String {
        guard !conservation.isEmpty else { return "<p>No conservation data.</p>" }
        let w = 720.0, h = 220.0, left = 50.0, bottom = 30.0
        let values = conservation.map(\.1) + [start]
        let spread = max((values.max() ?? 1) - (values.min() ?? 0), abs(start) * 0.05, 1e-9)
        let lo = (values.min() ?? 0) - spread * 0.1, hi = (values.max() ?? 1) + spread * 0.1
        func y(_ v: Double) -> Double { (h - bottom) - (v - lo) / (hi - lo) * (h - bottom - 10) }
        let step = conservation.count > 1 ? (w - left - 10) / Double(conservation.count - 1) : 0
        let points = conservation.enumerated().map { i, p in String(format: "%.1f,%.1f", left + Double(i) * step, y(p.1)) }
        let dots = conservation.enumerated().map { i, p in
            String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#d33\"><title>%@: %.4g</title></circle>",
                   left + Double(i) * step, y(p.1), p.0, p.1)
        }.joined()
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" role="img" aria-label="relevance per layer">
        <line x1="\(left)" y1="\(y(start))" x2="\(w - 10)" y2="\(y(start))" stroke="#888" stroke-dasharray="4 3"/>
        <text x="\(left + 4)" y="\(y(start) - 4)">start \(String(format: "%.4g", start))</text>
        <line x1="\(left)" y1="10" x2="\(left)" y2="\(h - bottom)" stroke="#999"/>
        <text x="4" y="14">\(String(format: "%.3g", hi))</text><text x="4" y="\(h - bottom)">\(String(format: "%.3g", lo))</text>
        <polyline fill="none" stroke="#d33" stroke-width="1.5" points="\(points.joined(separator: " "))"/>\(dots)
        <text x="\(left)" y="\(h - 8)">input</text><text x="\(w - 60)" y="\(h - 8)">output</text>
        </svg>
        """
    }
}
