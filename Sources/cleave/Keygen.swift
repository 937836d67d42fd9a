import ArgumentParser
import CleaveBundle
import CleaveIR
#if canImport(Glibc)
import Glibc
#endif

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an Ed25519 key pair for signing bundles.",
        discussion: """
            Writes KEY (the private key, mode 0600) and KEY.pub (the public key). Sign \
            with `--sign-key KEY` on any command that writes bundles; check with \
            `cleave verify --trusted-key KEY.pub`.
            """)

    @Option(name: .shortAndLong, help: "Where to write the private key; the public key goes to the same path + .pub.")
    var output: String

    @Flag(help: "Replace existing key files.")
    var force = false

    func validate() throws {
        if !force, access(output, F_OK) == 0 || access(output + ".pub", F_OK) == 0 {
            throw ValidationError("\(output) or \(output).pub already exists; pass --force to replace them")
        }
    }

    func run() throws {
        try SigningKeys.generate(at: output)
        print("wrote \(output) (private, keep it secret) and \(output).pub (public)")
    }
}
