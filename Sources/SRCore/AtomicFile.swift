import Foundation

/// Atomic writes: data goes to a temporary file in the target's folder, which is renamed
/// over the target only when complete. A failed or killed run leaves the target as it was.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { handle in try handle.write(contentsOf: data) }
    }

    /// Streams into a temporary file through `body`, then renames it to `path`.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0 ... .max)).tmp")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil),
              let handle = try? FileHandle(forWritingTo: tmp) else {
            throw SRError.cannotWrite("cannot write \(path): cannot create a file in \(dir.path)")
        }
        do {
            try body(handle)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: tmp)
            if let e = error as? SRError { throw e }
            throw SRError.cannotWrite("cannot write \(path): \(error.localizedDescription)")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let why = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw SRError.cannotWrite("cannot write \(path): \(why)")
        }
    }
}
