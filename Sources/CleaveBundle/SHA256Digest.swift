import CleaveIR
import Crypto

/// SHA-256 as lowercase hex, from swift-crypto (which uses the CPU's SHA
/// instructions where present).
public enum SHA256Digest {
    public static func hex(of bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex(of: $0) }
    }

    public static func hex(of bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        return hex(hasher.finalize())
    }

    /// The digest of a whole file, read through a memory mapping a window at a time.
    public static func hex(ofFile path: String) throws -> String {
        let file = try MappedFile(path: path)
        file.adviseSequential()
        var hasher = SHA256()
        file.forEachWindow { hasher.update(bufferPointer: $0) }
        return hex(hasher.finalize())
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
