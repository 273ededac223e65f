import SRCore
import SRFormats
import SRTestSupport
import XCTest

/// The loader's isolation policy as a library caller meets it. The child itself is tested
/// through the CLI (CLITests, HostileCLITests): only an executable that calls
/// `ModelLoader.serveIsolatedChildIfRequested()` can serve one, and this test bundle does not.
final class ModelLoaderTests: XCTestCase {
    let hdf5 = Fixtures.path("caffe/resnet_block/resnet_block.caffemodel.h5")

    func testIsolationRequiredWithoutTheChildHookIsAUsageError() throws {
        XCTAssertFalse(ModelLoader.isolationAvailable)
        XCTAssertThrowsError(try ModelLoader.load(path: hdf5, options: ModelOptions(isolation: .isolated))) { e in
            XCTAssertEqual(e as? SRError, .usage("\(hdf5) is read through libhdf5, which runs in a child process: call ModelLoader.serveIsolatedChildIfRequested() first thing in main, or load with isolation .inProcess"))
        }
        // srtool's own readers need no child.
        XCTAssertNoThrow(try ModelLoader.load(path: Fixtures.path("onnx/conv_basic/model.onnx"), options: ModelOptions(isolation: .isolated)))
    }

    /// Without the hook, `.automatic` reads libhdf5 files in this process; the notices come
    /// back with the model either way.
    func testAutomaticIsolationWithoutTheHookLoadsInProcess() throws {
        let loaded = try ModelLoader.load(path: hdf5)
        XCTAssertEqual(loaded.graph.metadata.sourceFormat, "caffe-hdf5")
        XCTAssertEqual(loaded.notices, ["using deploy prototxt \(Fixtures.path("caffe/resnet_block"))/deploy.prototxt (found beside resnet_block.caffemodel.h5; --prototxt overrides)"])
    }
}
