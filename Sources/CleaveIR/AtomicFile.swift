#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file or folder so that readers see either nothing or the complete
/// result: the bytes go to a temporary sibling, are synced, and are renamed into
/// place. On any error the temporary is removed and the destination is untouched.
public enum AtomicFile {
    /// Creates `path` by calling `body` with a file descriptor open on a temporary sibling.
    public static func write(to path: String, _ body: (Int32) throws -> Void) throws {
        let temporary = temporarySibling(of: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CleaveError.io("\(path): cannot create: \(errnoDescription())") }
        var closed = false
        do {
            try body(fd)
            guard fsync(fd) == 0 else { throw CleaveError.io("\(path): cannot sync: \(errnoDescription())") }
            closed = true
            guard close(fd) == 0 else { throw CleaveError.io("\(path): cannot close: \(errnoDescription())") }
            guard rename(temporary, path) == 0 else { throw CleaveError.io("\(path): cannot rename into place: \(errnoDescription())") }
        } catch {
            if !closed { close(fd) }
            unlink(temporary)
            throw error
        }
        syncDirectory(containing: path)
    }

    /// Writes all of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, min(bytes.count - offset, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw CleaveError.io("\(path): write failed: \(errnoDescription())")
            }
            offset += n
        }
    }

    /// A name next to `path` that no other writer uses.
    public static func temporarySibling(of path: String) -> String {
        let (folder, name) = split(path)
        let nonce = UInt64.random(in: 0...UInt64.max)
        return "\(folder)/.\(name).tmp-\(getpid())-\(String(nonce, radix: 36))"
    }

    static func split(_ path: String) -> (folder: String, name: String) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", trimmed) }
        let folder = String(trimmed[..<slash])
        return (folder.isEmpty ? "/" : folder, String(trimmed[trimmed.index(after: slash)...]))
    }

    /// Makes a rename durable.
    public static func syncDirectory(containing path: String) {
        let fd = open(split(path).folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
