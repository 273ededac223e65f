import SRCore

/// A colour map defined by control points in zennit's colour-map language
/// (`zennit/cmap.py`): comma-separated colours (`fff` or `ffffff`), each optionally
/// prefixed by a hexadecimal position `80:`; colours without a position are spaced evenly
/// between their neighbours; the first colour sits at 0 and the last at 255.
public struct Colormap: Sendable {
    public let name: String
    public let source: String
    /// 256 RGB entries.
    public let palette: [[UInt8]]

    public init(name: String, source: String) throws {
        self.name = name
        self.source = source
        palette = try Colormap.makePalette(try Colormap.parse(source))
    }

    /// The registry: zennit's colour maps plus matplotlib's viridis and magma as 17 control
    /// points (sampled every 1/16) and jet at its own breakpoints (`Tools/make_colormap_fixtures.py`
    /// prints them; the tests check every entry against matplotlib).
    public static let all: [Colormap] = {
        let specs: [(String, String)] = [
            ("gray", "000,fff"), ("wred", "fff,f00"), ("wblue", "fff,00f"), ("hot", "000,f00,ff0,fff"),
            ("cold", "000,00f,0ff"), ("coldnhot", "0ff,00f,80:000,f00,ff0,fff"), ("bwr", "00f,80:fff,f00"),
            ("france", "0055a4,80:fff,ef4135"), ("seismic", "0000d0,80:d0d0d0,d00000"),
            ("viridis", "440154,48186a,472d7b,424086,3b528b,33638d,2c728e,26828e,21918c,1fa088,28ae80,3fbc73,5ec962,84d44b,addc30,d8e219,fde725"),
            ("magma", "000004,0a0822,1d1147,36106b,51127c,6a1c81,832681,9c2e7f,b73779,d0416f,e75263,f56b5c,fc8961,fea772,fec488,fde2a3,fcfdbf"),
            ("jet", "000080,1c:0000ff,20:0000ff,57:00dcfe,59:00e4f8,60:16ffe1,a3:eeff09,a6:f8f500,a8:feed00,e3:ff1300,e8:e80000,800000"),
        ]
        return specs.compactMap { try? Colormap(name: $0.0, source: $0.1) }
    }()

    public static func named(_ name: String) throws -> Colormap {
        if let c = all.first(where: { $0.name == name }) { return c }
        if let c = try? Colormap(name: "custom", source: name) { return c }
        throw SRError.usage("unknown colour map '\(name)' (known: \(all.map(\.name).joined(separator: ", ")), or a spec like '00f,80:fff,f00')")
    }

    /// The colour of `v` in [0, 1].
    @inline(__always) public func color(_ v: Float) -> [UInt8] {
        let i = Int((min(max(v, 0), 1) * 255).rounded())
        return palette[i]
    }

    private struct ControlPoint { var index: Int?; var rgb: [Double] }

    private static func parse(_ s: String) throws -> [ControlPoint] {
        try s.split(separator: ",").map { part in
            let p = part.trimmingCharacters(in: .whitespaces)
            var index: Int?
            var hex = Substring(p)
            if let colon = p.firstIndex(of: ":") {
                var ix = String(p[..<colon])
                if ix.count == 1 { ix += ix }
                guard ix.count == 2, let v = Int(ix, radix: 16) else { throw SRError.usage("bad colour-map position in '\(s)'") }
                index = v
                hex = p[p.index(after: colon)...]
            }
            let digits = hex.count == 3 ? hex.map { String([$0, $0]) } : stride(from: 0, to: hex.count, by: 2).map {
                String(hex.dropFirst($0).prefix(2))
            }
            guard hex.count == 3 || hex.count == 6 else { throw SRError.usage("bad colour '\(hex)' in '\(s)'") }
            let rgb = try digits.map { d -> Double in
                guard let v = Int(d, radix: 16) else { throw SRError.usage("bad colour '\(hex)' in '\(s)'") }
                return Double(v)
            }
            return ControlPoint(index: index, rgb: rgb)
        }
    }

    /// zennit `ColorMap._make_palette` + `palette(level=1)`.
    private static func makePalette(_ input: [ControlPoint]) throws -> [[UInt8]] {
        guard input.count >= 2 else { throw SRError.usage("a colour map needs at least two colours") }
        var nodes = input
        let start = nodes.removeFirst()
        var result = [ControlPoint(index: 0, rgb: start.rgb)]
        if let i = start.index, i > 0 { result.append(start) }
        var pending: [ControlPoint] = []
        for (n, node) in nodes.enumerated() {
            var node = node
            if node.index == nil {
                if n < nodes.count - 1 { pending.append(node); continue }
                node.index = 255
            }
            guard let index = node.index, let last = result.last?.index, index >= last else {
                throw SRError.usage("colour-map positions must ascend")
            }
            for (k, p) in pending.enumerated() {
                let alpha = Double(k + 1) / Double(pending.count + 1)
                result.append(ControlPoint(index: Int(Double(last) * (1 - alpha) + Double(index) * alpha), rgb: p.rgb))
            }
            pending.removeAll()
            result.append(node)
        }
        result.append(ControlPoint(index: 256, rgb: result[result.count - 1].rgb))
        let indices = result.map { Double($0.index ?? 0) }
        return (0..<256).map { i in
            let x = min(max((Double(i) / 255 * 2 - 1 + 1) / 2, 0), 1) * 255
            // searchsorted(indices[:-1], x, side: right)
            var k = 0
            while k < indices.count - 1 && indices[k] <= x { k += 1 }
            let a = (x - indices[k - 1]) / (indices[k] - indices[k - 1])
            return (0..<3).map { c in
                let v = (result[k - 1].rgb[c] * (1 - a) + result[k].rgb[c] * a) / 255 * 255
                return UInt8(min(max((v * 1e12).rounded() / 1e12, 0), 255))
            }
        }
    }
}
