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

            With a bundle pair from `split --adaptive`, --cut ID runs one of its cuts \
            (locally or with --remote), and --remote URL --adaptive chooses the cut for \
            every request from the bandwidth and RTT it measures, printing one line per \
            request (which cut, why); it runs edge-only while the server is unreachable. \
            --link-schedule FILE emulates a link that changes over time (lines \
            'FROM TO BANDWIDTH RTT'); without --repeat, requests run until it ends. \
            See schemas/ADAPTIVE.md.

            Inputs are NumPy .npy files in C order (float32, float16, float64, int64, \
            int32, int8, uint8, bool). Each output is written to DIR/<output name>.npy, \
            with characters other than letters, digits, '.', '_' and '-' replaced by '_'.

            Example:
              cleave run fixtures/pytorch_style/model.onnx \\
                --input input=fixtures/pytorch_style/inputs/input.npy --output-dir out --repeat 10
              cleave run out/edge --remote http://127.0.0.1:8000 --input input=x.npy \\
                --boundary-codec int8+zlib --link-bandwidth 10Mbps --link-rtt 20ms
              cleave run out/edge --remote http://127.0.0.1:8000 --adaptive --input input=x.npy \
                --link-schedule schedule.txt --json
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

    @Option(name: .customLong("repeat"), help: "Run this many times and report the median latency (default 1; with --link-schedule, until the schedule ends).")
    var repeatCount: Int?

    @Flag(help: "Print a JSON report (outputs, latencies, per-node timings) instead of text.")
    var json = false

    @OptionGroup var remote: RemoteOptions

    func validate() throws {
        if let repeatCount, repeatCount < 1 { throw ValidationError("--repeat must be at least 1") }
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
        var requests: [RequestRecord] = []
        let streamStart = Session.now()
        let perRequest = remote.adaptive || runner.schedule != nil
        while true {
            if let repeatCount { if latencies.count >= repeatCount { break } }
            else if let schedule = runner.schedule { if Session.now() - streamStart >= schedule.duration { break } }
            else if latencies.count >= 1 { break }
            let start = Session.now()
            let result = try await runner.run(feeds, record: json, timings: &timings, elapsed: start - streamStart)
            latencies.append((Session.now() - start) * 1000)
            outputs = result.outputs
            if let breakdown = result.breakdown { breakdowns.append(breakdown) }
            if perRequest {
                let record = RequestRecord(index: latencies.count, seconds: start - streamStart, milliseconds: latencies[latencies.count - 1],
                                           result: result, link: runner.schedule?.link(at: start - streamStart) ?? (try? remote.link()) ?? nil)
                requests.append(record)
                if !json { print(record.line); fflush(stdout) }
            }
        }
        let median = latencies.sorted()[latencies.count / 2]
        let repeats = latencies.count

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
            ] + (runner.remoteRunner.map { [("remote", remote.report(breakdowns, runner: $0))] } ?? [])
              + (perRequest ? [("requests", .array(requests.map(\.json)))] : []))
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
    private let adaptive: AdaptiveRunner?
    let outputNames: [String]
    let schedule: LinkSchedule?
    /// A local run of an edge-only cut in a stream: the emulated edge's slowdown, and the cut's id.
    private var edgeSlowdown = 1.0
    private var cutID: String?
    /// The runner of the cloud half, when it runs remotely at one cut.
    var remoteRunner: RemoteRunner? { remote }

    /// One request's result: the outputs, and for remote runs where the time went and which cut ran why.
    struct Result {
        var outputs: [String: Tensor]
        var breakdown: RemoteBreakdown?
        var adaptive: AdaptiveRunner.Outcome?
        var cut: String?
    }

    init(model: String, peer: String?, options: SessionOptions, remote: RemoteOptions) async throws {
        var info = stat()
        let isFolder = stat(model, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        schedule = try remote.linkSchedule()
        // A bundle viewed at the --cut asked for.
        func bundle(_ path: String) throws -> LoadedBundle {
            let loaded = try LoadedBundle(path: path)
            return try remote.cut.map { try loaded.cut($0) } ?? loaded
        }
        if let url = remote.url, remote.adaptive {
            let runner = try AdaptiveRunner(edge: try LoadedBundle(path: model), url: url, modelName: remote.model, codec: remote.codec,
                                            timeoutSeconds: try remote.timeoutSeconds(), options: options)
            runner.link = try remote.link()
            runner.schedule = schedule
            runner.edgeSlowdown = remote.edgeSlowdown
            adaptive = runner
            self.remote = nil
            session = nil
            pair = nil
            outputNames = runner.outputNames
        } else if let url = remote.url {
            let edge = try bundle(model)
            if edge.manifest.version >= 2 && edge.manifest.boundary.isEmpty {
                // An edge-only cut sends nothing: it runs here (at the emulated edge's speed), like any other cut of a stream.
                session = try edge.session(options: options)
                edgeSlowdown = remote.edgeSlowdown
                cutID = edge.cutID
                self.remote = nil
                outputNames = edge.graph.outputs.map(\.name)
            } else {
                let runner = try await RemoteRunner(edge: edge, url: url, modelName: remote.model,
                                                    codec: remote.codec, link: try remote.link(), options: options,
                                                    wire: remote.wire.format, timeoutSeconds: try remote.timeoutSeconds())
                try remote.checkPair(runner)
                runner.edgeSlowdown = remote.edgeSlowdown
                self.remote = runner
                session = nil
                outputNames = runner.outputNames
            }
            adaptive = nil
            pair = nil
        } else if let peer {
            let pair = try BundlePair(try bundle(model), try bundle(peer), options: options)
            self.pair = pair
            self.remote = nil
            adaptive = nil
            session = nil
            outputNames = pair.outputNames
        } else {
            if remote.cut != nil && !isFolder { throw CleaveError(.usage, "--cut names a cut of a bundle; \(model) is a model file") }
            let graph = isFolder ? try bundle(model).graph : try ONNXImporter.load(path: model)
            session = try Session(graph: graph, options: options)
            pair = nil
            self.remote = nil
            adaptive = nil
            outputNames = graph.outputs.map(\.name)
        }
    }

    /// Runs once; with `record`, per-node timings of a single model or bundle are collected.
    /// A remote run also returns where its time went; `elapsed` (seconds since the first request) places it in the link schedule.
    func run(_ feeds: [String: Tensor], record: Bool, timings: inout [NodeTiming], elapsed: Double) async throws -> Result {
        if let adaptive {
            let outcome = try await adaptive.run(feeds)
            return Result(outputs: outcome.outputs, breakdown: outcome.breakdown, adaptive: outcome, cut: outcome.cut)
        }
        if let remote {
            if let schedule { remote.link = schedule.link(at: elapsed) }
            let (outputs, breakdown) = try await remote.run(feeds)
            return Result(outputs: outputs, breakdown: breakdown, cut: remote.edge.cutID)
        }
        if let pair { return Result(outputs: try pair.run(feeds)) }
        guard let session else { return Result(outputs: [:]) }
        let start = Session.now()
        let outputs = record ? try session.run(feeds, timings: &timings) : try session.run(feeds)
        try await RemoteRunner.emulateSlowdown(edgeSlowdown, since: start)
        return Result(outputs: outputs, cut: cutID)
    }
}

/// One request of a stream (`--adaptive` or `--link-schedule`), as printed and in `--json`'s `requests`.
struct RequestRecord {
    var index: Int
    var seconds: Double
    var milliseconds: Double
    var result: Runner.Result
    var link: LinkEmulation?

    var line: String {
        let linkText = link.map { l in l.bitsPerSecond.map { " link \(format3($0 / 1e6)) Mbps," } ?? "" } ?? ""
        let reason = result.adaptive.map { "  \($0.fellBack ? "FALLBACK " : "")\($0.reason)" } ?? ""
        return "request \(index) at \(fixed(seconds, 2)) s:\(linkText) cut \(result.cut ?? "-"), \(fixed(milliseconds, 1)) ms\(reason)"
    }

    var json: JSON {
        var members: [(String, JSON)] = [
            ("index", .int(index)), ("start_s", .double(seconds)), ("total_ms", .double(milliseconds)),
            ("cut", result.cut.map { .string($0) } ?? .null),
            ("link", link.map { .object([("bandwidth_bps", $0.bitsPerSecond.map { .double($0) } ?? .null), ("rtt_ms", .double($0.rttSeconds * 1000))]) } ?? .null),
        ]
        if let b = result.breakdown {
            members += [("edge_ms", .double(b.edgeMilliseconds)), ("transfer_ms", .double(b.transferMilliseconds)),
                        ("cloud_ms", .double(b.cloudMilliseconds)), ("wire_bytes", .int(b.wireBytes))]
        }
        if let outcome = result.adaptive {
            members += [
                ("reason", .string(outcome.reason)), ("fallback", .bool(outcome.fellBack)),
                ("estimate", .object([("bandwidth_bps", .double(outcome.estimate.bitsPerSecond)), ("rtt_ms", .double(outcome.estimate.rttMilliseconds)),
                                      ("samples", .int(outcome.estimate.samples))])),
                ("predicted_ms", .object(outcome.predicted.map { ($0.cut, .double($0.milliseconds)) })),
            ]
        }
        return .object(members)
    }
}
