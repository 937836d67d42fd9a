import CleaveIR
import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// Ed25519 key files for signed bundles (schemas/BUNDLE.md §5): raw 32-byte keys.
public enum SigningKeys {
    /// Writes a new key pair to `path` (private, mode 0600) and `path.pub`.
    public static func generate(at path: String) throws {
        let key = Curve25519.Signing.PrivateKey()
        try write(Array(key.rawRepresentation), to: path, mode: 0o600)
        try write(Array(key.publicKey.rawRepresentation), to: path + ".pub", mode: 0o644)
    }

    public static func privateKey(at path: String) throws -> Curve25519.Signing.PrivateKey {
        let bytes = try read(path, what: "private key")
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes) else {
            throw CleaveError.badInput("\(path): not an Ed25519 private key (expected 32 bytes from `cleave keygen`)")
        }
        return key
    }

    public static func publicKey(at path: String) throws -> Curve25519.Signing.PublicKey {
        let bytes = try read(path, what: "public key")
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else {
            throw CleaveError.badInput("\(path): not an Ed25519 public key (expected 32 bytes from `cleave keygen`)")
        }
        return key
    }

    static func read(_ path: String, what: String) throws -> [UInt8] {
        let bytes = try MappedFile.contents(of: path)
        guard bytes.count == 32 else {
            throw CleaveError.badInput("\(path): \(bytes.count) bytes; an Ed25519 \(what) from `cleave keygen` has 32")
        }
        return bytes
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        try AtomicFile.write(to: path) { fd in
            guard fchmod(fd, mode) == 0 else { throw CleaveError.io("\(path): cannot set permissions") }
            try bytes.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
        }
    }
}
