import ArgumentParser
import CleaveBundle
import CleaveIR
import CleaveRuntime
import CleaveServe

#if canImport(Glibc)
import Glibc
#endif

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model, a bundle, or an edge/cloud pair on NumPy inputs and write the outputs as .npy files.",
        discussion: """
            MODEL is an .onnx file or a bundle folder. Given two bundles (an edge and a \
            cloud half of one cut), both are verified, then the edge half runs and its \
            boundary tensors feed the cloud half; the outputs are the whole model's.

            With --remote, MODEL is an edge bundle: it runs here, its boundary tensors \
            go to the cloud half on a KServe v2 server (`cleave serve`, Triton, KServe, \
            MLServer) in the binary tensor data extension when the server lists it, as \
            JSON otherwise (--remote-wire), and the breakdown (edge, encode, bytes on \
            the wire, transfer, cloud, total) is printed. A server that does not declare \
            the pair id is warned about, or refused with --strict-pair. With \
            --boundary-codec none the outputs equal a local `cleave run EDGE CLOUD` \
            exactly (to float tolerance on another runtime). --link-bandwidth and \
            --link-rtt emulate a slower link by sleeping; they are off by default.

            Inputs are NumPy .npy files in C order (float32, float16, float64, int64, \
            int32, int8, uint8, bool). Each output is written to DIR/<output name>.npy, \
            with characters other than letters, digits, '.', '_' and '-' replaced by '_'.

            Example:
              cleave run fixtures/pytorch_style/model.onnx \\
                --input input=fixtures/pytorch_style/inputs/input.npy --output-dir out --repeat 10
              cleave run out/edge --remote http://127.0.0.1:8000 --input input=x.npy \\
                --boundary-codec int8+zlib --link-bandwidth 10Mbps --link-rtt 20ms
            """)

    @Argument(help: "The ONNX model or bundle folder to run.")
    var model: String

    @Argument(help: "The cloud (or edge) bundle that pairs with MODEL.")
    var peer: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=FILE.npy (repeatable).", valueName: "name=file"))
    var inputs: [String] = []

    @Option(name: .customLong("output-dir"), help: "Write each output to DIR/<name>.npy.")
    var outputDirectory: String?

    @OptionGroup var threading: ThreadOptions

    @Option(name: .customLong("repeat"), help: "Run this many times and report the median latency.")
    var repeats: Int = 1

    @Flag(help: "Print a JSON report (outputs, latencies, per-node timings) instead of text.")
    var json = false

    @OptionGroup var remote: RemoteOptions

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        if remote.url != nil && peer != nil {
            throw ValidationError("with --remote the cloud half runs on the server: give only the edge bundle")
        }
        for input in inputs where !input.contains("=") {
            throw ValidationError("--input '\(input)' must look like NAME=FILE.npy")
        }
    }

    func run() async throws {
        let options = SessionOptions(threads: threading.threads)
        let runner = try await Runner(model: model, peer: peer, options: options, remote: remote)
        var feeds: [String: Tensor] = [:]
        for input in inputs {
            guard let equals = input.lastIndex(of: "=") else { continue }
            let name = String(input[..<equals])
            feeds[name] = try Npy.read(path: String(input[input.index(after: equals)...]))
        }

        var latencies: [Double] = []
        var timings: [NodeTiming] = []
        var outputs: [String: Tensor] = [:]
        var breakdowns: [RemoteBreakdown] = []
        for _ in 0..<repeats {
            let start = Session.now()
            let result = try await runner.run(feeds, record: json, timings: &timings)
            latencies.append((Session.now() - start) * 1000)
            outputs = result.outputs
            if let breakdown = result.breakdown { breakdowns.append(breakdown) }
        }
        let median = latencies.sorted()[latencies.count / 2]

        var written: [String: String] = [:]
        if let outputDirectory {
            try makeDirectory(outputDirectory)
            var used = Set<String>()
            for name in runner.outputNames {
                guard let tensor = outputs[name] else { continue }
                var file = fileSafe(name)
                while !used.insert(file).inserted { file += "_" }
                let path = outputDirectory + "/" + file + ".npy"
                try Npy.write(tensor, to: path)
                written[name] = path
            }
        }

        if json {
            let report = JSON.object([
                ("model", .string(model)),
                ("threads", .int(options.threads)),
                ("outputs", .array(runner.outputNames.compactMap { name in
                    outputs[name].map { tensor in
                        .object([("name", .string(name)), ("dtype", .string(tensor.dtype.name)),
                                 ("shape", .array(tensor.shape.dims.map { .int($0) })),
                                 ("file", written[name].map { .string($0) } ?? .null)])
                    }
                })),
                ("latency_ms", .object([("median", .double(median)), ("runs", .array(latencies.map { .double($0) }))])),
                ("nodes", .array(timings.map { .object([("name", .string($0.node)), ("op", .string($0.op)), ("ms", .double($0.milliseconds))]) })),
            ] + (runner.remoteRunner.map { [("remote", remote.report(breakdowns, runner: $0))] } ?? []))
            print(report.serialized(pretty: true))
        } else {
            for name in runner.outputNames {
                guard let tensor = outputs[name] else { continue }
                let destination = written[name].map { " → \($0)" } ?? ""
                print("\(name): \(tensor.dtype.name)\(tensor.shape)\(destination)")
            }
            let runs = repeats > 1 ? "median of \(repeats) runs" : "1 run"
            print("latency: \(fixed(median, 3)) ms (\(runs), \(options.threads) thread\(options.threads == 1 ? "" : "s"))")
            if let wire = runner.remoteRunner?.wire { for line in remote.lines(breakdowns, wire: wire) { print(line) } }
        }
    }
}

/// What `run` executes: a model file, one bundle, an edge/cloud pair, or an
/// edge bundle here with its cloud half on a server.
struct Runner {
    private let session: Session?
    private let pair: BundlePair?
    private let remote: RemoteRunner?
    let outputNames: [String]
    /// The runner of the cloud half, when it runs remotely.
    var remoteRunner: RemoteRunner? { remote }

    init(model: String, peer: String?, options: SessionOptions, remote: RemoteOptions) async throws {
        var info = stat()
        let isFolder = stat(model, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        if let url = remote.url {
            let runner = try await RemoteRunner(edge: try LoadedBundle(path: model), url: url, modelName: remote.model,
                                                codec: remote.codec, link: try remote.link(), options: options, wire: remote.wire.format)
            try remote.checkPair(runner)
            self.remote = runner
            session = nil
            pair = nil
            outputNames = runner.outputNames
        } else if let peer {
            let pair = try BundlePair(try LoadedBundle(path: model), try LoadedBundle(path: peer), options: options)
            self.pair = pair
            self.remote = nil
            session = nil
            outputNames = pair.outputNames
        } else {
            let graph = isFolder ? try LoadedBundle(path: model).graph : try ONNXImporter.load(path: model)
            session = try Session(graph: graph, options: options)
            pair = nil
            self.remote = nil
            outputNames = graph.outputs.map(\.name)
        }
    }

    /// Runs once; with `record`, per-node timings of a single model or bundle are collected.
    /// A remote run also returns where its time went.
    func run(_ feeds: [String: Tensor], record: Bool, timings: inout [NodeTiming]) async throws -> (outputs: [String: Tensor], breakdown: RemoteBreakdown?) {
        if let remote { return try await remote.run(feeds) }
        if let pair { return (try pair.run(feeds), nil) }
        guard let session else { return ([:], nil) }
        return (record ? try session.run(feeds, timings: &timings) : try session.run(feeds), nil)
    }
}
