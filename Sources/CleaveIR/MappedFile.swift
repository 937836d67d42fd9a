#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors read from a model keep
/// the mapping alive and point into it, so weights are never copied on import.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    /// True when `bytes` is a heap copy (see `init(path:copying:)`), not a mapping.
    private let isHeapCopy: Bool

    /// Maps `path`. An empty file maps to an empty buffer.
    /// - Throws: `CleaveError.io` when the file cannot be opened or mapped.
    public init(path: String) throws {
        self.path = path
        isHeapCopy = false
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CleaveError.io("\(path): cannot open: \(errnoDescription())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CleaveError.io("\(path): cannot stat: \(errnoDescription())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw CleaveError.io("\(path): not a regular file") }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw CleaveError.io("\(path): cannot map \(size) bytes: \(errnoDescription())")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// An in-memory file (fuzzing, tests): `bytes` is copied and treated as the
    /// content of `path`, whose folder is where external data would be looked up.
    public init(path: String, copying source: UnsafeRawBufferPointer) {
        self.path = path
        isHeapCopy = true
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 64)
        if let base = source.baseAddress, source.count > 0 {
            copy.baseAddress?.copyMemory(from: base, byteCount: source.count)
        }
        bytes = UnsafeRawBufferPointer(copy)
    }

    public var count: Int { bytes.count }

    /// Calls `body` with the bytes while keeping the mapping alive: `bytes`
    /// must not be used after the last reference to the file goes away.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(bytes) }
    }

    /// A copy of the file's contents (small files: manifests, keys, signatures).
    public static func contents(of path: String) throws -> [UInt8] {
        try MappedFile(path: path).withBytes { Array($0) }
    }

    /// Tells the kernel the pages will be read once, front to back.
    public func adviseSequential() {
        guard let base = bytes.baseAddress else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, MADV_SEQUENTIAL)
    }

    /// Hands the bytes to `body` window by window, front to back, and drops each
    /// window's pages from this process once done, so reading a whole file once
    /// (to hash it) never holds more than one window resident.
    public func forEachWindow(bytes windowSize: Int = 8 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var start = 0
        repeat {
            let window = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + windowSize, bytes.count)])
            try body(window)
            if !isHeapCopy, let base = window.baseAddress, !window.isEmpty {
                _ = madvise(UnsafeMutableRawPointer(mutating: base), window.count, MADV_DONTNEED)
            }
            start += windowSize
        } while start < bytes.count
    }

    deinit {
        if isHeapCopy {
            UnsafeMutableRawBufferPointer(mutating: bytes).deallocate()
        } else if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}

func errnoDescription() -> String { String(cString: strerror(errno)) }
