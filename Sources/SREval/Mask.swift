import SRCore

/// A ground-truth region: which pixels belong to the object, `[H·W]` in raster order.
public struct Mask: Sendable {
    public let height: Int
    public let width: Int
    public let inside: [Bool]

    public init(height: Int, width: Int, inside: [Bool]) {
        self.height = height; self.width = width; self.inside = inside
    }

    public var count: Int { inside.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Refuses a mask whose size is not the attribution's (exit 65).
    func check(_ map: PixelMap, name: String) throws {
        guard height == map.height, width == map.width else {
            throw SRError.malformed("\(name) is \(width)×\(height) pixels; the input is \(map.width)×\(map.height)")
        }
    }
}
