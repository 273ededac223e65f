import Foundation
import SRCore

/// A read-only memory map of a whole file; tensors borrow from it and keep it alive. The
/// file stays open, so bytes that must be copied can be read without touching the map.
public final class MappedFile: @unchecked Sendable {
    public let base: UnsafeRawPointer?
    public let size: Int
    private let path: String
    private let fd: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SRError.missing("\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        var opened = false
        defer { if !opened { close(fd) } }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw SRError.missing("\(path): not a regular file")
        }
        size = Int(st.st_size)
        self.path = path
        self.fd = fd
        if size == 0 {
            base = nil
        } else {
            guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw SRError.missing("\(path): cannot map (\(String(cString: strerror(errno))))")
            }
            base = UnsafeRawPointer(p)
        }
        opened = true
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
        close(fd)
    }

    /// Copies the bytes at `range` into `destination` (fresh memory the caller owns) with
    /// `pread`: straight from the page cache, without faulting the map's pages in. The
    /// destination's whole 2 MiB pages are first advised huge (`MADV_HUGEPAGE`), so a
    /// 411 MB copy takes ~200 page faults instead of ~100,000; that, not the copy, was most
    /// of its time.
    public func read(_ range: Range<Int>, into destination: UnsafeMutableRawPointer) throws {
        guard range.lowerBound >= 0, range.upperBound <= size else {
            throw SRError.internalError("\(path): read of bytes \(range) outside the file's \(size)")
        }
        let huge = 2 << 20, start = Int(bitPattern: destination)
        let first = (start + huge - 1) / huge * huge, last = (start + range.count) / huge * huge
        if last > first, let p = UnsafeMutableRawPointer(bitPattern: first) {
            _ = madvise(p, last - first, MADV_HUGEPAGE)  // only advice: a no-op where THP is off
        }
        var done = 0
        while done < range.count {
            let n = pread(fd, destination + done, min(range.count - done, 1 << 30), off_t(range.lowerBound + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let why = n == 0 ? "the file got shorter" : String(cString: strerror(errno))
                throw SRError.missing("\(path): cannot read bytes \(range.lowerBound + done)..<\(range.upperBound) (\(why))")
            }
            done += n
        }
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
}

extension MappedFile: PageReleasing {
    /// `MADV_DONTNEED` on the whole pages inside the range (within the map): a private,
    /// read-only map has no changes to lose, so a later read faults the page in from the
    /// file again, with the same bytes.
    public func releasePages(_ start: UnsafeRawPointer, byteCount: Int) {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = max(Int(bitPattern: start), Int(bitPattern: base))
        let last = min(Int(bitPattern: start) + byteCount, Int(bitPattern: base) + size)
        let lo = (first + page - 1) / page * page, hi = last / page * page
        guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(p, hi - lo, MADV_DONTNEED)
    }
}
