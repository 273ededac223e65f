import Foundation
import SRCore

/// Where `-o` puts the picture of each input and map. One input, one map: the file named.
/// Several inputs: `DIR/<input>.png` when `-o` names a folder (it ends in `/` or is one),
/// else `<name>_<input>.<ext>`. A method with several maps (Grad-CAM at every layer) adds
/// `_<layer>`. Names from files are made safe and unique (`FileNames`).
struct OutputNames {
    let output: String
    let folder: String?
    private var used = FileNames()

    init(_ output: String) throws {
        self.output = output
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: output, isDirectory: &isFolder)
        guard output.hasSuffix("/") || (exists && isFolder.boolValue) else {
            folder = nil
            return
        }
        folder = output
        if !exists {
            do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
                throw SRError.cannotWrite("cannot create folder \(output): \(systemReason(error))")
            }
        }
    }

    /// Whether `path` names a folder for `-o` (checked before anything runs).
    static func namesFolder(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue)
    }

    /// The file for input `stem`'s map (`layer`: set when the method gave several maps);
    /// `single`: the run has one input.
    mutating func path(stem: String, single: Bool, layer: String?) -> String {
        let parts = (folder != nil || !single ? [stem] : []) + (layer.map { [$0] } ?? [])
        if let folder {
            return (folder as NSString).appendingPathComponent(used.name(for: parts.joined(separator: "_"), extension: ".png"))
        }
        guard !parts.isEmpty else { return output }
        let ns = output as NSString
        let ext = ns.pathExtension.isEmpty ? "" : "." + ns.pathExtension
        let base = (ns.lastPathComponent as NSString).deletingPathExtension
        let name = used.name(for: base + "_" + parts.joined(separator: "_"), extension: ext)
        return (ns.deletingLastPathComponent as NSString).appendingPathComponent(name)
    }
}
