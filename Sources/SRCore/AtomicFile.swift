import Foundation

/// How srtool writes an output file (README, "Writing files"):
/// - `-`: standard output;
/// - a new or regular file: replaced atomically. The data goes into an unnamed file in the
///   target's folder (`O_TMPFILE`), which gets a name only once complete and is renamed
///   over the target, so a killed process leaves neither a half-written target nor a
///   temporary file. Where the file system has no `O_TMPFILE`, a hidden
///   `.<name>.<pid>.<random>.tmp` is used instead, removed on an error, on SIGINT/SIGTERM/
///   SIGHUP, and (left by a killed process) by the next write beside it;
/// - a symbolic link: the same for the file it points to (the link stays a link);
/// - a character device or FIFO (`/dev/null`, a named pipe): written in place;
/// - a folder, block device or socket: refused (exit 73).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { handle in try handle.write(contentsOf: data) }
    }

    /// Streams into the target through `body` under the policy above.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void) throws {
        switch try OutputTarget(path) {
        case .standardOutput:
            fflush(stdout)
            try writing(path) { try body(FileHandle.standardOutput) }
        case .inPlace(let resolved):
            let fd = open(resolved, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno)))") }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try writing(path) { try body(handle) }
        case .replace(let resolved):
            try replace(resolved, shownAs: path, body)
        }
    }

    /// The same policy for a writer that needs a path of its own (libhdf5 opens files by
    /// name): `body` writes a hidden `.<name>.<pid>.<random>.tmp` beside the target, which
    /// is flushed to disk and renamed over the target only when `body` returns. A killed
    /// process leaves that temporary file, removed by the next write beside it. Devices
    /// and standard output are refused: such a writer seeks.
    public static func write(to path: String, byName body: (String) throws -> Void) throws {
        guard case .replace(let target) = try OutputTarget(path) else {
            throw SRError.cannotWrite("cannot write \(path): this file is written by name and must be a regular file")
        }
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        Temporaries.removeStale(in: folder.isEmpty ? "." : folder, prefix: Temporaries.prefix(name))
        let temporary = Temporaries.name(in: folder, for: name)
        Temporaries.pending.set(temporary)
        defer { Temporaries.pending.set(nil) }
        do {
            // `body`'s errors pass unchanged: it writes by name and says why itself.
            try body(temporary)
            let fd = open(temporary, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, fsync(fd) == 0 else {
                let why = String(cString: strerror(errno))
                if fd >= 0 { close(fd) }
                throw SRError.cannotWrite("cannot write \(path): \(why)")
            }
            close(fd)
            guard rename(temporary, target) == 0 else { throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno)))") }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private static func replace(_ target: String, shownAs path: String, _ body: (FileHandle) throws -> Void) throws {
        let url = URL(fileURLWithPath: target)
        let folder = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        var fd = LinuxSystem.openUnnamedFile(in: folder)
        var named: String?
        if fd < 0 {
            guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
                throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno))) (folder \(folder))")
            }
            Temporaries.removeStale(in: folder, prefix: Temporaries.prefix(name))
            let temporary = Temporaries.name(in: folder, for: name)
            fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o666)
            guard fd >= 0 else { throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno)))") }
            Temporaries.pending.set(temporary)
            named = temporary
        }
        defer { close(fd) }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        do {
            try writing(path) { try body(handle) }
            guard fsync(fd) == 0 else { throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno)))") }
        } catch {
            if let named { unlink(named); Temporaries.pending.set(nil) }
            throw error
        }
        let temporary = named ?? Temporaries.name(in: folder, for: name)
        if named == nil {
            guard LinuxSystem.link(fd, to: temporary) else {
                throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
        defer { Temporaries.pending.set(nil) }
        guard rename(temporary, target) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw SRError.cannotWrite("cannot write \(path): \(why)")
        }
    }

    /// Runs `body`, turning Foundation's write errors into one `cannotWrite` line with the
    /// system's reason (not "NSCocoaErrorDomain error 512").
    private static func writing(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as SRError { throw e } catch {
            throw SRError.cannotWrite("cannot write \(path): \(systemReason(error))")
        }
    }
}

/// What writing to a path means (see `AtomicFile`). The type is that of what the path
/// finally names (`stat` follows links, also `/dev/stdout`'s through `/proc`); a regular or
/// new file is replaced at the end of its chain of links (up to 40, as the kernel allows).
public enum OutputTarget: Equatable {
    case standardOutput
    case inPlace(String)
    case replace(String)

    public init(_ path: String) throws {
        if path == "-" { self = .standardOutput; return }
        guard !path.isEmpty else { throw SRError.usage("an empty output path") }
        var st = stat()
        guard stat(path, &st) == 0 else {
            guard errno == ENOENT else { throw SRError.cannotWrite("cannot write \(path): \(String(cString: strerror(errno)))") }
            self = .replace(try Self.endOfLinks(path))  // a new file, or a dangling link's target
            return
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: self = .replace(try Self.endOfLinks(path))
        case S_IFCHR, S_IFIFO: self = .inPlace(path)
        case S_IFDIR: throw SRError.cannotWrite("cannot write \(path): it is a folder")
        default: throw SRError.cannotWrite("cannot write \(path): not a regular file, character device or FIFO")
        }
    }

    /// The path a chain of symbolic links ends at (which need not exist yet).
    static func endOfLinks(_ path: String) throws -> String {
        var resolved = path
        for _ in 0..<40 {
            var st = stat()
            guard lstat(resolved, &st) == 0, st.st_mode & S_IFMT == S_IFLNK else { return resolved }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(resolved, &buffer, buffer.count - 1)
            guard n > 0 else { throw SRError.cannotWrite("cannot write \(path): unreadable symbolic link") }
            let link = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            resolved = link.hasPrefix("/") ? link
                : URL(fileURLWithPath: resolved).deletingLastPathComponent().appendingPathComponent(link).path
        }
        throw SRError.cannotWrite("cannot write \(path): too many levels of symbolic links")
    }
}

/// The reason behind a Foundation file error, from its POSIX code where it has one.
public func systemReason(_ error: Error) -> String {
    let e = error as NSError
    if e.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(e.code))) }
    if let u = e.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(u.code)))
    }
    if e.domain == NSCocoaErrorDomain {
        switch e.code {
        case NSFileWriteOutOfSpaceError: return "no space left on device"
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or folder"
        case NSFileWriteFileExistsError: return "a file of that name exists"
        default: break
        }
    }
    return e.localizedDescription
}

/// Named temporary files and folders: `.<name>.<pid>.<random>.tmp` beside their target.
/// One path at a time is "pending": a handler for SIGINT, SIGTERM and SIGHUP removes it
/// before the signal ends the process.
enum Temporaries {
    /// `.<name>.`, the name cut to 200 bytes so that the whole stays within NAME_MAX.
    static func prefix(_ name: String) -> String {
        var cut = ""
        for c in name where cut.utf8.count + c.utf8.count <= 200 { cut.append(c) }
        return "." + cut + "."
    }

    static func name(in folder: String, for name: String) -> String {
        (folder as NSString).appendingPathComponent("\(prefix(name))\(getpid()).\(String(UInt32.random(in: 0 ... .max), radix: 16)).tmp")
    }

    /// Removes `<prefix><pid>.<hex>.tmp` entries of `folder` whose process is gone.
    static func removeStale(in folder: String, prefix: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") {
            let parts = entry.dropFirst(prefix.count).dropLast(4).split(separator: ".")
            guard parts.count == 2, let pid = Int32(parts[0]), UInt32(parts[1], radix: 16) != nil,
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(entry))
        }
    }

    static let pending = Pending()

    /// The pending path as a C string the signal handler can read without allocating.
    final class Pending: @unchecked Sendable {
        private let slot = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 1)
        private let lock = NSLock()

        init() {
            slot.initialize(to: nil)
            pendingSlot = slot
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal(sig) { sig in
                    if let p = pendingSlot?.pointee { unlink(p) }
                    signal(sig, SIG_DFL)
                    raise(sig)
                }
            }
        }

        func set(_ path: String?) {
            lock.lock(); defer { lock.unlock() }
            let old = slot.pointee
            slot.pointee = path.map { strdup($0) }
            free(old)
        }
    }
}

/// Read by the signal handler (a C function pointer cannot capture).
nonisolated(unsafe) private var pendingSlot: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
