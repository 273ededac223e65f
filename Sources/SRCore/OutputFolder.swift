import Foundation

/// A folder output (`render --out`, `run --dump`, `explain --save-layers`), built whole in
/// a hidden staging folder beside it and swapped in at the end (`renameat2`
/// RENAME_EXCHANGE), so the folder always holds exactly one complete run: never two runs
/// mixed, never half of one. The target may be absent, empty or an earlier srtool output
/// (it holds the marker file `.srtool-output`); any other folder is refused rather than
/// replaced. A staging folder left by a killed process is removed by the next run.
public final class OutputFolder {
    public static let marker = ".srtool-output"

    /// The folder as the user named it.
    public let path: String
    /// Where files are written until `commit()`.
    public let staging: String
    private let target: String
    private var committed = false

    public init(_ path: String) throws {
        self.path = path
        // The folder a chain of symbolic links names, so that the links themselves are kept.
        target = URL(fileURLWithPath: try OutputTarget.endOfLinks(path)).standardizedFileURL.path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw SRError.cannotWrite("cannot write folder \(path): a file of that name exists") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []
            guard entries.isEmpty || entries.contains(Self.marker) else {
                throw SRError.cannotWrite("cannot write folder \(path): it exists and holds files srtool did not write (no \(Self.marker)); choose a new folder or empty it")
            }
        }
        let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
        let name = URL(fileURLWithPath: target).lastPathComponent
        Temporaries.removeStale(in: parent, prefix: Temporaries.prefix(name))
        staging = Temporaries.name(in: parent, for: name)
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw SRError.cannotWrite("cannot write folder \(path): \(systemReason(error))")
        }
    }

    deinit {
        if !committed { try? FileManager.default.removeItem(atPath: staging) }
    }

    /// The staging path of `relative` (a file name, or `sub/name` after `makeFolder("sub")`).
    public func file(_ relative: String) -> String { (staging as NSString).appendingPathComponent(relative) }

    public func makeFolder(_ relative: String) throws {
        do { try FileManager.default.createDirectory(atPath: file(relative), withIntermediateDirectories: true) } catch {
            throw SRError.cannotWrite("cannot write folder \(path): \(systemReason(error))")
        }
    }

    /// Puts the complete folder in place of the target.
    public func commit() throws {
        try AtomicFile.write(Data("written by srtool; a later run replaces this whole folder\n".utf8), to: file(Self.marker))
        if FileManager.default.fileExists(atPath: target) {
            guard LinuxSystem.exchange(staging, target) else {
                throw SRError.cannotWrite("cannot replace folder \(path): \(String(cString: strerror(errno)))")
            }
            // `staging` now holds the earlier run.
            try? FileManager.default.removeItem(atPath: staging)
        } else {
            guard rename(staging, target) == 0 else {
                throw SRError.cannotWrite("cannot write folder \(path): \(String(cString: strerror(errno)))")
            }
        }
        committed = true
    }
}
