import Foundation
import SRCore
import SRFormats
import SRImage
import SRTestSupport
import XCTest

/// Decoding and preprocessing against Fixtures/images (Tools/make_image_fixtures.py:
/// PIL decodes, torchvision Resize(36) + CenterCrop(32) + ImageNet normalisation).
final class ImageTests: XCTestCase {
    let names = ["landscape", "portrait"]

    func pixels(_ image: RGBImage) -> [Float] { image.pixels.map(Float.init) }

    func testPNGDecodesExactly() throws {
        for name in names {
            let image = try RGBImage.read(path: Fixtures.path("images/\(name).png"))
            let want = try NPY.read(path: Fixtures.path("images/\(name)_rgb.npy"))
            XCTAssertEqual(want.shape, [image.height, image.width, 3])
            XCTAssertEqual(pixels(image), want.values, name)
        }
    }

    func testJPEGDecodesLikePIL() throws {
        for name in names {
            let image = try RGBImage.read(path: Fixtures.path("images/\(name).jpg"))
            let want = try NPY.read(path: Fixtures.path("images/\(name)_jpeg_decoded.npy"))
            XCTAssertEqual(want.shape, [image.height, image.width, 3])
            if let why = closeness(pixels(image), want.values, atol: 1, rtol: 0) { XCTFail("\(name): \(why)") }
        }
    }

    func testResizeMatchesPillowBilinear() throws {
        for name in names {
            let image = try RGBImage.read(path: Fixtures.path("images/\(name).png"))
            let want = try NPY.read(path: Fixtures.path("images/\(name)_resized.npy"))
            let r = Resize.bilinear(image, width: want.shape[1], height: want.shape[0])
            XCTAssertEqual(pixels(r), want.values, name)
        }
    }

    /// The preset itself, no --size: a 32-px input resizes the shorter side to ⌊32 / 0.875⌋
    /// = 36, the ratio of torchvision's Resize(256) + CenterCrop(224) that the fixture applies.
    func testImagenetPreprocessingMatchesTorchvision() throws {
        let p = try XCTUnwrap(Preset.named("imagenet")).preprocessing
        XCTAssertEqual(p.resizedSize(400, 300, height: 224, width: 224).1, 256)
        for name in names {
            let image = try RGBImage.read(path: Fixtures.path("images/\(name).png"))
            let got = try p.tensor(from: image, height: 32, width: 32, channels: 3)
            let want = try NPY.read(path: Fixtures.path("images/\(name)_imagenet.npy"))
            if let why = closeness(got, want, atol: 1e-5, rtol: 1e-5) { XCTFail("\(name): \(why)") }
        }
    }

    func testBundledSamplePreprocessing() throws {
        let p = try XCTUnwrap(Preset.named("imagenet-full")).preprocessing
        let image = try RGBImage.read(path: Fixtures.path("bundled/samples/circle_0.png"))
        let got = try p.tensor(from: image, height: 64, width: 64, channels: 3)
        let want = try NPY.read(path: Fixtures.path("bundled/samples/circle_0.npy"))
        if let why = closeness(got, want, atol: 1e-5, rtol: 1e-5) { XCTFail(why) }
    }

    func testPNGRoundTripAndCorruptFiles() throws {
        let image = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
        let data = try PNG.encode(width: 3, height: 2, channels: 3, pixels: image.pixels)
        XCTAssertEqual(try PNG.decode(data, name: "x"), image)
        for cut in [8, 20, data.count / 2] {
            XCTAssertThrowsError(try PNG.decode(data.prefix(cut), name: "x")) { e in
                guard case SRError.malformed = e else { return XCTFail("\(e)") }
            }
        }
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/landscape.jpg")))
        XCTAssertThrowsError(try JPEG.decode(jpeg.prefix(30), name: "x"))
    }
}
