import ArgumentParser
import Foundation
import SRCore
import SRFormats

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge the shards of srtool batch into one HDF5 file, rows in input order.",
        discussion: "Refuses, in one line, when a shard is missing, unfinished, or made with other options. The parts are read by a child srtool (libhdf5 is kept out of this process, as for models).")

    @Argument(help: ArgumentHelp("The output folder of srtool batch.", valueName: "dir"))
    var folder: String

    @Option(name: .short, help: ArgumentHelp("The merged file (.h5); its record goes beside it as .json, the inputs (batch --inputs) as .input.h5.", valueName: "file"))
    var output: String

    @Flag(help: "Print stable JSON instead of text.")
    var json = false

    func validate() throws {
        try checkOutputName(output, option: "-o", format: "an HDF5 file", extensions: [".h5", ".hdf5"])
    }

    /// `ALL.h5` → `ALL.json`, `ALL.input.h5`.
    private func beside(_ suffix: String) -> String { (output as NSString).deletingPathExtension + suffix }

    func run() throws {
        let plan = try MergePlan(folder: folder)
        let limit = IsolatedChild.timeLimit(bytes: plan.bytes)
        let subject = "the parts in \(folder)"
        var wrote = [output]
        try AtomicFile.write(to: output, byName: { path in
            _ = try IsolatedChild.run(["_merge", folder, path], timeLimit: limit, subject: subject)
        })
        if plan.records[0].preprocessedInputs {
            try AtomicFile.write(to: beside(".input.h5"), byName: { path in
                _ = try IsolatedChild.run(["_merge", folder, path, "--inputs"], timeLimit: limit, subject: subject)
            })
            wrote.append(beside(".input.h5"))
        }
        let record = plan.merged
        if record.threads.count > 1 {
            Log.warning("the parts were computed with \(record.threads.map(String.init).joined(separator: ", ")) threads: their values agree to rounding, not bit for bit with a run at one --threads")
        }
        try record.write(to: beside(".json"))
        wrote.append(beside(".json"))
        let summary = MergeSummary(shards: plan.shards, images: record.images, rows: record.inputs.count,
                                   failed: record.failed.count, wrote: wrote)
        emit(json ? try jsonText(summary) : summary.text)
    }
}

/// `merge --json` and its text. Field names are part of the CLI contract (docs/json.md).
struct MergeSummary: Encodable {
    var shards: Int
    var images: Int
    var rows: Int
    var failed: Int
    var wrote: [String]

    var text: String {
        (["merged \(shards) shard\(shards == 1 ? "" : "s"): \(rows) rows of \(images) images, \(failed) skipped"] + wrote.map { "  wrote \($0)" })
            .joined(separator: "\n")
    }
}

/// `srtool _merge DIR OUT.h5 [--inputs]`: the child side of `merge`, which reads the parts
/// through libhdf5 (not listed in help). Copies the parts' rows in order, a bounded number
/// of rows at a time.
struct MergeChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_merge", shouldDisplay: false)

    @Argument var folder: String
    @Argument var output: String
    @Flag var inputs = false

    func run() throws {
        IsolatedChild.enter()
        let plan = try MergePlan(folder: folder)
        let parts = try (0..<plan.shards).map { i -> (HDF5File, BatchRecord) in
            let f = plan.files(i)
            return (try HDF5File(path: inputs ? f.input : f.attribution), plan.records[i])
        }
        let datasets: [(name: String, element: HDF5Writer.Element)] = inputs
            ? [("data", .float32), ("label", .uint32), ("index", .uint32)]
            : [("index", .uint32), ("attribution", .float32), ("label", .uint32), ("prediction", .float32)]
        // Each dataset's per-row shape, from the parts that hold rows.
        var rowShapes: [String: [Int]] = [:]
        for (file, record) in parts {
            for (name, element) in datasets {
                guard let info = try file.datasetInfo(name), element == .float32 ? info.isFloat : info.isInteger,
                      info.shape.first == record.inputs.count else {
                    throw SRError.malformed("\(file.path): no \(element == .float32 ? "float" : "integer") dataset '\(name)' of \(record.inputs.count) rows")
                }
                let rest = Array(info.shape.dropFirst())
                guard record.inputs.isEmpty || rowShapes[name] == nil || rowShapes[name] == rest else {
                    throw SRError.malformed("\(file.path): dataset '\(name)' has rows of shape \(rest), another part \(rowShapes[name] ?? [])")
                }
                if !record.inputs.isEmpty { rowShapes[name] = rest }
            }
        }
        let total = parts.reduce(0) { $0 + $1.1.inputs.count }
        let h5 = try HDF5Writer(path: output)
        for (name, element) in datasets {
            let fallback = try parts.first?.0.datasetInfo(name).map { Array($0.shape.dropFirst()) } ?? []
            let rest = rowShapes[name] ?? fallback
            try h5.create(name, shape: [total] + rest, element: element)
        }
        if !inputs { try h5.setAttribute("srtool_fingerprint", plan.records[0].fingerprint) }
        for (name, element) in datasets {
            let perRow = max(1, (rowShapes[name] ?? []).reduce(1, *))
            let chunk = max(1, (64 << 20) / (perRow * 4))
            var row = 0
            for (file, record) in parts {
                var done = 0
                while done < record.inputs.count {
                    let n = min(chunk, record.inputs.count - done)
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: n * perRow * 4, alignment: 16)
                    defer { buffer.deallocate() }
                    try file.readRows(name, rows: done, count: n, element: element, into: buffer)
                    try h5.write(name, rows: row + done, count: n, element: element, from: buffer)
                    done += n
                }
                row += record.inputs.count
            }
        }
        try h5.close()
    }
}
