import Foundation
import SRRender
import SRTestSupport
import XCTest

/// srtool's palettes against zennit's (Tools/make_colormap_fixtures.py), ±1 per channel.
final class ColormapTests: XCTestCase {
    struct Reference: Decodable { var palettes: [String: [[Int]]] }

    /// Every palette of a fixture file against srtool's registry, within `levels` per channel.
    func comparePalettes(_ file: String, count: Int, levels: Float) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("colormaps/\(file)")))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        XCTAssertEqual(reference.palettes.count, count)
        for (name, want) in reference.palettes {
            let got = try Colormap.named(name).palette
            if let why = closeness(got.flatMap { $0.map(Float.init) }, want.flatMap { $0.map(Float.init) }, atol: levels, rtol: 0) {
                XCTFail("\(name): \(why)")
            }
        }
    }

    func testPalettesMatchZennit() throws {
        try comparePalettes("zennit.json", count: 9, levels: 1)
    }

    /// viridis and magma come from 17 control points, jet from its breakpoints: within 6
    /// levels of matplotlib's 256-entry tables.
    func testMatplotlibMapsFollowMatplotlib() throws {
        try comparePalettes("matplotlib.json", count: 3, levels: 6)
    }

    func testSymmetricNormalisationPutsZeroInTheMiddle() {
        let n = Heatmap.normalize([-2, 0, 1], .symmetric)
        XCTAssertEqual(n, [0, 0.5, 0.75])
    }
}
