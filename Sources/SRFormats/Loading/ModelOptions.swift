/// What a caller may say about reading a model, beyond its path (`ModelLoader.load`).
public struct ModelOptions: Sendable, Codable {
    /// Overrides the input shape the file declares (`N,C,H,W`).
    public var inputShape: [Int]?
    public var limits: ImportLimits
    /// Caffe: the deploy prototxt for a caffemodel (else one found beside it).
    public var prototxt: String?
    /// Caffe: the weights for a prototxt (else one found beside it).
    public var weights: String?
    /// Keras: the architecture JSON for a weights-only .h5.
    public var config: String?
    /// Where libhdf5 reads the file, when it reads it at all.
    public var isolation: Isolation

    /// Where libhdf5 runs for a model read through it (Caffe-HDF5 weights, Keras `.h5` and
    /// `.keras`); every other format is read by srtool's own Swift readers, in this process.
    public enum Isolation: String, Sendable, Codable {
        /// In a child process when this program called
        /// `ModelLoader.serveIsolatedChildIfRequested()`, else in this process.
        case automatic
        /// In a child process; refused (`SRError.usage`) when this program did not call
        /// `ModelLoader.serveIsolatedChildIfRequested()`.
        case isolated
        /// In this process: a crash in libhdf5 is this program's crash, a hang its hang.
        case inProcess
    }

    public init(inputShape: [Int]? = nil, limits: ImportLimits = .default, prototxt: String? = nil,
                weights: String? = nil, config: String? = nil, isolation: Isolation = .automatic) {
        self.inputShape = inputShape
        self.limits = limits
        self.prototxt = prototxt
        self.weights = weights
        self.config = config
        self.isolation = isolation
    }
}
