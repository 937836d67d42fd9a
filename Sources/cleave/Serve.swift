import ArgumentParser
import CleaveBundle
import CleaveIR
import CleaveRuntime
import CleaveServe
import Logging

#if canImport(Glibc)
import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a bundle over HTTP with the KServe v2 / Open Inference Protocol, as Triton does.",
        discussion: """
            Verifies BUNDLE first and refuses to serve one that does not verify. The \
            model is named after the source model's file (squeezenet.onnx → \
            squeezenet) unless --name is given; its only version is 1. A bundle \
            written by `split --adaptive` holds several cuts: each is served as \
            NAME.<cut id> (NAME.c0, NAME.c1, ...), and NAME is the default cut.

            Endpoints: GET /v2, /v2/health/live, /v2/health/ready, \
            /v2/models/NAME, /v2/models/NAME/ready, /v2/models/NAME/config; \
            POST /v2/models/NAME/infer with JSON tensor data or the binary tensor \
            data extension (Inference-Header-Content-Length, binary_data_size), \
            in both directions; request bodies may be Content-Encoding deflate or \
            gzip (inflated up to --max-body). NVIDIA's tritonclient works unchanged.

            Errors are 4xx with a JSON body {"error": "..."}; one access-log line \
            per request goes to standard error. SIGTERM or SIGINT stops accepting \
            connections, lets in-flight requests finish, then exits 0. The first \
            line on standard output says where the server listens.

            Example:
              cleave serve out/cloud --port 8000 --threads 2
              curl localhost:8000/v2/models/model
            """)

    @Argument(help: "The bundle folder to serve (usually the cloud half of a cut).")
    var bundle: String

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: a free port, printed at start).")
    var port = 8000

    @Option(help: "Inferences that run at once, each on its own session with one kernel thread (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("max-body"), help: ArgumentHelp("The largest request body, before and after inflating: bytes, or with KB, MB, GB, KiB, MiB, GiB.", valueName: "size"))
    var maxBody = "256MiB"

    @Option(help: "Serve the model under this name instead of the source model's.")
    var name: String?

    @Option(name: .customLong("trusted-key"), help: "Serve only a bundle signed by this Ed25519 public key (from `cleave keygen`).")
    var trustedKey: String?

    @Option(name: .customLong("log-level"), help: "Log this level and above: trace, debug, info (access log), notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard let bytes = parseByteSize(maxBody), bytes >= 1024 else {
            throw ValidationError("--max-body '\(maxBody)' must be a size of at least 1KiB, such as 256MiB or 1GB")
        }
        _ = bytes
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        if let name, !ServedModel.isValidName(name) {
            throw ValidationError("--name must be letters, digits, '.', '_' and '-', not starting with '.' (it appears in URLs)")
        }
    }

    func run() async throws {
        let key = try trustedKey.map { try SigningKeys.publicKey(at: $0) }
        let loaded = try LoadedBundle(path: bundle, trustedKey: key)
        let workers = threads ?? Session.availableCores
        let models = try ServedModel.all(bundle: loaded, name: name, workers: workers)
        var logger = Logger(label: "cleave.serve") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let configuration = ServeConfiguration(host: host, port: port, maxBodyBytes: parseByteSize(maxBody) ?? 256 << 20)

        let server = try await InferenceServer.start(models, configuration: configuration, logger: logger, stopOnSignals: true)
        let half = "\(loaded.manifest.role.rawValue) half of pair \(loaded.manifest.pairID.prefix(12))"
        let base = models[0].name
        print("serving model '\(base)' (\(half)) on http://\(host):\(server.port) with \(workers) worker\(workers == 1 ? "" : "s")")
        if models.count > 1 {
            let cuts = models.dropFirst().map { "'\($0.name)'" }.joined(separator: ", ")
            print("cuts: \(cuts); '\(base)' is the default cut \(loaded.manifest.defaultCut ?? "")")
        }
        fflush(stdout)
        try await server.wait()
        for (_, model) in models { model.shutdown() }
    }
}

/// `256MiB`, `64MB`, `1GiB`, `4096` → bytes; nil if malformed or over Int.
func parseByteSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
    var number = text.trimmingCharacters(in: " ")
    var scale = 1
    if let unit = units.first(where: { number.hasSuffix($0.0) }) {
        number = String(number.dropLast(unit.0.count)).trimmingCharacters(in: " ")
        scale = unit.1
    }
    guard let value = Int(number), value >= 0 else { return nil }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
    return overflow ? nil : bytes
}

extension String {
    func trimmingCharacters(in character: Character) -> String { Substring(self).trimmingCharacters(in: character) }
}
