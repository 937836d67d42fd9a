import ArgumentParser
import CleaveBundle
import CleaveIR

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a bundle (or an edge/cloud pair) is intact, complete and well-formed.",
        discussion: """
            Checks, cheapest first, every rule of schemas/BUNDLE.md: the manifest \
            (size, strict JSON, fields, format version, its own digest), that the \
            folder holds exactly the listed files with no links, every file's size \
            and SHA-256, that model.onnx loads and matches the manifest, and the \
            layout of weights.bin. With two bundles, also that they form a pair.

            Exit status: 0 when everything verifies, 1 with one line per problem otherwise.
            For release scripts: `cleave verify out/edge out/cloud --trusted-key release.pub --json`.
            """)

    @Argument(help: "The bundle folder to verify.")
    var bundle: String

    @Argument(help: "The other half, to also check that the two form a pair.")
    var peer: String?

    @Option(name: .customLong("trusted-key"), help: "Accept only bundles signed by this Ed25519 public key (from `cleave keygen`).")
    var trustedKey: String?

    @Flag(help: "Print a JSON report instead of text.")
    var json = false

    func run() throws {
        let key = try trustedKey.map { try SigningKeys.publicKey(at: $0) }
        let reports = ([bundle] + (peer.map { [$0] } ?? [])).map { BundleVerifier.verify($0, trustedKey: key) }
        var pairProblems: [String] = []
        if reports.count == 2 {
            if let a = reports[0].manifest, let b = reports[1].manifest {
                pairProblems = BundleVerifier.checkPair(a, b)
            } else {
                pairProblems = ["the pair cannot be checked until both bundles verify"]
            }
        }
        let valid = reports.allSatisfy(\.isValid) && pairProblems.isEmpty

        if json {
            var members: [(String, JSON)] = [("valid", .bool(valid))]
            members.append(("bundles", .array(reports.map { report in
                .object([
                    ("path", .string(report.path)),
                    ("valid", .bool(report.isValid)),
                    ("role", report.manifest.map { .string($0.role.rawValue) } ?? .null),
                    ("pair_id", report.manifest.map { .string($0.pairID) } ?? .null),
                    ("version", report.manifest.map { .int($0.version) } ?? .null),
                    ("cuts", report.manifest.map { m in .array(m.cuts.map { .string($0.id) }) } ?? .null),
                    ("default_cut", report.manifest?.defaultCut.map { .string($0) } ?? .null),
                    ("signed", .bool(report.signed)),
                    ("signature_verified", .bool(report.signatureVerified)),
                    ("problems", .array(report.problems.map { .string($0) })),
                ])
            })))
            if reports.count == 2 {
                members.append(("pair", .object([("valid", .bool(pairProblems.isEmpty)), ("problems", .array(pairProblems.map { .string($0) }))])))
            }
            print(JSON.object(members).serialized(pretty: true))
        } else {
            for report in reports {
                if let manifest = report.manifest {
                    let signature = report.signatureVerified ? ", signed by the trusted key" : report.signed ? ", signed (no key given to check it)" : ""
                    let cuts = manifest.cuts.isEmpty ? "" : ", cuts " + manifest.cuts.map { $0.id + ($0.id == manifest.defaultCut ? "*" : "") + ($0.model == nil ? " (nothing to run)" : "") }.joined(separator: ", ")
                    print("ok: \(report.path) (\(manifest.role.rawValue) half of \(manifest.sourceName), pair \(manifest.pairID.prefix(12)), \(manifest.files.count) files\(cuts)\(signature))")
                }
                for problem in report.problems { print("FAIL: \(problem)") }
            }
            if reports.count == 2 {
                if pairProblems.isEmpty { print("ok: the two bundles form a pair") }
                for problem in pairProblems { print("FAIL: \(problem)") }
            }
        }
        if !valid { throw ExitCode(1) }
    }
}
