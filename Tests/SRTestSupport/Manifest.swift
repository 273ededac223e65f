import Foundation

/// A fixture folder's `manifest.json` (the fields tests read).
public struct FixtureManifest: Decodable {
    public var generator: String
    public var reference: String
    public var atol: Float?
    public var rtol: Float?
    public var layers: [String: String]?

    public static func load(_ folder: String) throws -> FixtureManifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(FixtureManifest.self, from: data)
    }
}
