import Foundation
import SRCore

/// One image of a dataset run and, from a list file, its label (a class index or name).
struct DatasetItem: Equatable, Sendable {
    let path: String
    let label: String?
}

/// The images of a dataset run in the one order every shard agrees on: sorted by path
/// (byte order). From `--images`/`--image` (folders give their PNG and JPEG files) or from
/// `--list FILE`: one path per line, optionally `path<TAB>label`; relative paths are taken
/// from the list's folder, empty lines skipped.
enum DatasetList {
    static func items(inputs: InputArguments, list: String?) throws -> [DatasetItem] {
        guard inputs.input == nil else { throw SRError.usage("batch reads images (--images DIR or --list FILE), not --input") }
        var items: [DatasetItem]
        if let list {
            guard !inputs.hasImages else { throw SRError.usage("give either --images or --list, not both") }
            items = try read(list)
        } else {
            let paths = try inputs.imagePaths()
            guard !paths.isEmpty else { throw SRError.usage("no input: give --images DIR or --list FILE") }
            guard !paths.contains("-") else { throw SRError.usage("batch cannot read an image from standard input (-)") }
            items = paths.map { DatasetItem(path: $0, label: nil) }
        }
        guard !items.isEmpty else { throw SRError.usage("\(list ?? "the input"): no images listed") }
        return items.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    private static func read(_ list: String) throws -> [DatasetItem] {
        let data = try readCapped(list, limit: 1 << 30)
        guard let text = String(data: data, encoding: .utf8) else { throw SRError.malformed("\(list): not UTF-8 text") }
        let folder = (list as NSString).deletingLastPathComponent
        var items: [DatasetItem] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line.isEmpty { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count <= 2, !fields[0].isEmpty else {
                throw SRError.malformed("\(list) line \(n + 1): expected a path, or a path, a tab and a label")
            }
            let path = String(fields[0])
            items.append(DatasetItem(path: path.hasPrefix("/") || folder.isEmpty ? path : (folder as NSString).appendingPathComponent(path),
                                     label: fields.count == 2 ? String(fields[1]) : nil))
        }
        return items
    }
}

/// A regular file of at most `limit` bytes, whole (lists, journals, records).
func readCapped(_ path: String, limit: Int) throws -> Data {
    try InputFile.checkRegular(path)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    guard size <= limit else { throw SRError.malformed("\(path): \(size) bytes, more than the \(limit) such a file may hold") }
    return try InputFile.read(path)
}
