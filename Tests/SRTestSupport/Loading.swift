import SRCore
import SRFormats

/// Loading helpers shared by test targets.
public enum SRFormatsTestHook {
    public static func load(_ path: String) throws -> Graph { try ModelLoader.load(path: path).graph }
    public static func npy(_ path: String) throws -> Tensor { try NPY.read(path: path) }
}
