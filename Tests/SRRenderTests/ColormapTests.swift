import Foundation
import SRRender
import SRTestSupport
import XCTest

/// srtool's palettes against zennit's (Tools/make_colormap_fixtures.py), ±1 per channel.
final class ColormapTests: XCTestCase {
    struct Reference: Decodable { var palettes: [String: [[Int]]] }

    func testPalettesMatchZennit() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("colormaps/zennit.json")))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        XCTAssertEqual(reference.palettes.count, 9)
        for (name, want) in reference.palettes {
            let got = try Colormap.named(name).palette
            let flatGot = got.flatMap { $0.map(Float.init) }, flatWant = want.flatMap { $0.map(Float.init) }
            if let why = closeness(flatGot, flatWant, atol: 1, rtol: 0) { XCTFail("\(name): \(why)") }
        }
    }

    /// viridis, magma and jet from 17 control points stay within 6 levels of matplotlib's tables.
    func testMatplotlibMapsFollowMatplotlib() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("colormaps/matplotlib.json")))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        XCTAssertEqual(reference.palettes.count, 3)
        for (name, want) in reference.palettes {
            let got = try Colormap.named(name).palette
            let flatGot = got.flatMap { $0.map(Float.init) }, flatWant = want.flatMap { $0.map(Float.init) }
            if let why = closeness(flatGot, flatWant, atol: 6, rtol: 0) { XCTFail("\(name): \(why)") }
        }
    }

    func testSymmetricNormalisationPutsZeroInTheMiddle() {
        let n = Heatmap.normalize([-2, 0, 1], .symmetric)
        XCTAssertEqual(n, [0, 0.5, 0.75])
    }
}
