import Foundation

/// Files srtool reads (models and their companions, images, `.npy`, labels) must be
/// regular files: a FIFO or a device would block or never end, a folder is no file.
/// Checked on the opened descriptor (`O_NONBLOCK`, so opening a FIFO cannot hang).
public enum InputFile {
    /// Refuses `path` unless it is a readable regular file (exit 66).
    public static func checkRegular(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let why = errno
            var st = stat()
            if why == ENOENT && lstat(path, &st) == 0 { throw SRError.missing("\(path): a broken symbolic link") }
            throw SRError.missing(why == ENOENT ? "\(path): no such file" : "\(path): cannot read (\(String(cString: strerror(why))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SRError.missing("\(path): cannot read (\(String(cString: strerror(errno))))") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw SRError.missing("\(path): a folder, not a file")
        case S_IFIFO: throw SRError.missing("\(path): a FIFO, not a regular file")
        case S_IFCHR, S_IFBLK: throw SRError.missing("\(path): a device, not a regular file")
        default: throw SRError.missing("\(path): not a regular file")
        }
    }

    /// The whole file, after `checkRegular`.
    public static func read(_ path: String) throws -> Data {
        try checkRegular(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SRError.missing("\(path): cannot read")
        }
        return data
    }

    /// Copies standard input into `file` (a private temporary file), at most `maxBytes`:
    /// a model given as `-`.
    public static func copyStandardInput(to file: String, maxBytes: Int) throws {
        guard FileManager.default.createFile(atPath: file, contents: nil), let out = FileHandle(forWritingAtPath: file) else {
            throw SRError.cannotWrite("cannot create a temporary file \(file)")
        }
        defer { try? out.close() }
        var total = 0
        while true {
            let chunk: Data
            do { chunk = try FileHandle.standardInput.read(upToCount: 1 << 20) ?? Data() } catch {
                throw SRError.missing("-: cannot read standard input (\(systemReason(error)))")
            }
            if chunk.isEmpty { break }
            total += chunk.count
            guard total <= maxBytes else {
                throw SRError.malformed("-: standard input holds more than \(maxBytes) bytes (raise --max-stdin-bytes)")
            }
            do { try out.write(contentsOf: chunk) } catch {
                throw SRError.cannotWrite("cannot write a temporary file \(file): \(systemReason(error))")
            }
        }
        guard total > 0 else { throw SRError.malformed("-: standard input is empty") }
    }
}
