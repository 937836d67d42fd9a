import ArgumentParser
import CleaveIR
import CleaveRuntime
import CleaveServe

#if canImport(Glibc)
import Glibc
#endif

/// `cleave run EDGE --remote URL …`: the options, and how the breakdown is shown.
struct RemoteOptions: ParsableArguments {
    static let defaultTimeout = "30s"

    @Option(name: .customLong("remote"), help: ArgumentHelp("Run the cloud half on this KServe v2 server (`cleave serve`, Triton, KServe, MLServer), e.g. http://10.0.0.2:8000; MODEL is then the edge bundle.", valueName: "url"))
    var url: String?

    @Option(name: .customLong("remote-model"), help: "The cloud half's name on the server (default: the name `cleave serve` gives it).")
    var model: String?

    @Option(name: .customLong("boundary-codec"), help: "How boundary tensors travel with --remote: none (FP32, exact), int8 (quantised, 4x fewer bytes), int8+zlib (int8, body deflated).")
    var codec: BoundaryCodec = .none

    @Option(name: .customLong("link-bandwidth"), help: ArgumentHelp("Emulate a link of this bandwidth with --remote (sleeps bytes×8/bandwidth each way), e.g. 10Mbps. Off by default.", valueName: "rate"))
    var bandwidth: String?

    @Option(name: .customLong("link-rtt"), help: ArgumentHelp("Emulate this round-trip time with --remote (sleeps half each way), e.g. 20ms. Off by default.", valueName: "time"))
    var rtt: String?

    @Option(name: .customLong("link-schedule"), help: ArgumentHelp("Emulate a link that changes over time with --remote: lines 'FROM TO BANDWIDTH RTT' (e.g. '0 20s 100Mbps 20ms'), back to back from the first request. Without --repeat, requests run until the schedule ends.", valueName: "file"))
    var schedule: String?

    @Flag(help: "With --remote and a bundle from `split --adaptive`: choose the cut for every request from the bandwidth and RTT measured on recent requests; falls back to edge-only when the server is unreachable.")
    var adaptive = false

    @Option(help: ArgumentHelp("Run this cut of a bundle from `split --adaptive` (see `cleave verify` for its cuts); default: the bundle's default cut.", valueName: "id"))
    var cut: String?

    @Option(name: .customLong("edge-slowdown"), help: ArgumentHelp("With --remote: emulate an edge device this many times slower than this machine by sleeping (factor − 1) × each edge run's time, as the built-in edge profile's slowdown predicts (experiments; default 1, off).", valueName: "factor"))
    var edgeSlowdown: Double = 1

    @Option(name: .customLong("remote-timeout"), help: ArgumentHelp("With --remote: give up on a request after this long (with --adaptive it then runs edge-only), e.g. 5s.", valueName: "time"))
    var timeout = RemoteOptions.defaultTimeout

    @Option(name: .customLong("remote-wire"), help: "How tensors travel with --remote: auto (binary when the server's GET /v2 lists binary_tensor_data, else JSON), binary, json.")
    var wire: WireChoice = .auto

    @Flag(name: .customLong("strict-pair"), help: "With --remote, refuse a server whose model metadata does not declare the pair id (parameters.pair_id, which only `cleave serve` sends) instead of warning.")
    var strictPair = false

    func validate() throws {
        if let url {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw ValidationError("--remote '\(url)' must be an http:// or https:// URL such as http://127.0.0.1:8000")
            }
        } else if model != nil || codec != .none || bandwidth != nil || rtt != nil || strictPair || wire != .auto
                    || schedule != nil || adaptive || timeout != RemoteOptions.defaultTimeout {
            throw ValidationError("--remote-model, --remote-wire, --boundary-codec, --link-bandwidth, --link-rtt, --strict-pair, --link-schedule, --adaptive and --remote-timeout need --remote")
        }
        if schedule != nil && (bandwidth != nil || rtt != nil) {
            throw ValidationError("--link-schedule sets the link over time; give it without --link-bandwidth and --link-rtt")
        }
        guard edgeSlowdown >= 1, edgeSlowdown.isFinite else { throw ValidationError("--edge-slowdown must be at least 1") }
        if edgeSlowdown != 1 && url == nil { throw ValidationError("--edge-slowdown needs --remote") }
        if adaptive && cut != nil { throw ValidationError("--adaptive chooses the cut itself; give --cut without it") }
        do {
            _ = try link()
            guard try timeoutSeconds() > 0 else { throw ValidationError("--remote-timeout must be positive, e.g. 5s") }
        } catch let error as CleaveError { throw ValidationError(error.message) }
    }

    func timeoutSeconds() throws -> Double { try LinkEmulation.parseDuration(timeout) }

    /// The schedule file, parsed (a bad file is bad input, exit 65).
    func linkSchedule() throws -> LinkSchedule? { try schedule.map { try LinkSchedule(path: $0) } }

    /// A server that does not say which pair it serves (Triton, KServe,
    /// MLServer) was checked on the boundary's names, datatypes and shapes
    /// only: warn on stderr, or refuse it with --strict-pair.
    func checkPair(_ runner: RemoteRunner) throws {
        guard runner.serverPairID == nil else { return }
        let model = "\(runner.baseURL)/v2/models/\(runner.modelName)"
        if strictPair {
            throw CleaveError.badInput("\(model) does not declare parameters.pair_id, so it cannot be shown to serve this edge bundle's cloud half (--strict-pair)")
        }
        fputs("cleave: warning: \(model) does not declare parameters.pair_id; only the boundary's names, datatypes and shapes were checked (--strict-pair refuses such a server)\n", stderr)
    }

    /// The emulated link, if one was asked for.
    func link() throws -> LinkEmulation? {
        guard bandwidth != nil || rtt != nil else { return nil }
        return LinkEmulation(bitsPerSecond: try bandwidth.map(LinkEmulation.parseBandwidth),
                             rttSeconds: try rtt.map(LinkEmulation.parseDuration) ?? 0)
    }

    /// The `remote` member of `run --json`.
    func report(_ runs: [RemoteBreakdown], runner: RemoteRunner) -> JSON {
        guard let b = RemoteBreakdown.median(of: runs) else { return .null }
        let link = (try? self.link()).flatMap { $0 }
        return .object([
            ("url", .string(url ?? "")), ("model", .string(runner.modelName)), ("codec", .string(codec.rawValue)),
            ("wire", .string(runner.wire.rawValue)), ("pair_checked", .bool(runner.serverPairID != nil)),
            ("link", link.map { .object([("bandwidth_bps", $0.bitsPerSecond.map { .double($0) } ?? .null), ("rtt_ms", .double($0.rttSeconds * 1000))]) } ?? .null),
            ("edge_ms", .double(b.edgeMilliseconds)), ("encode_ms", .double(b.encodeMilliseconds)),
            ("request_bytes", .int(b.requestBytes)), ("response_bytes", .int(b.responseBytes)), ("wire_bytes", .int(b.wireBytes)),
            ("transfer_ms", .double(b.transferMilliseconds)), ("cloud_ms", .double(b.cloudMilliseconds)),
            ("decode_ms", .double(b.decodeMilliseconds)), ("total_ms", .double(b.totalMilliseconds)),
        ])
    }

    /// The breakdown as text lines (medians when there are several runs).
    func lines(_ runs: [RemoteBreakdown], wire: WireFormat) -> [String] {
        guard let b = RemoteBreakdown.median(of: runs) else { return [] }
        let link = ((try? self.link()).flatMap { $0 }).map { l in
            " (emulated link: " + [l.bitsPerSecond.map { "\(format3($0 / 1e6)) Mbps" }, "RTT \(fixed(l.rttSeconds * 1000, 1)) ms"].compactMap { $0 }.joined(separator: ", ") + ")"
        } ?? ""
        return [
            "remote: \(url ?? ""), codec \(codec.rawValue), \(wire == .binary ? "binary tensor data" : "JSON tensor data")\(link)\(runs.count > 1 ? ", medians of \(runs.count) runs" : "")",
            "  edge      \(fixed(b.edgeMilliseconds, 3)) ms",
            "  encode    \(fixed(b.encodeMilliseconds, 3)) ms",
            "  wire      \(humanBytes(b.wireBytes)) (\(humanBytes(b.requestBytes)) up, \(humanBytes(b.responseBytes)) down)",
            "  transfer  \(fixed(b.transferMilliseconds, 3)) ms",
            "  cloud     \(fixed(b.cloudMilliseconds, 3)) ms",
            "  decode    \(fixed(b.decodeMilliseconds, 3)) ms",
            "  total     \(fixed(b.totalMilliseconds, 3)) ms",
        ]
    }
}

extension BoundaryCodec: ExpressibleByArgument {}

/// `--remote-wire`: negotiate, or force one format.
enum WireChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, binary, json

    var format: WireFormat? { self == .auto ? nil : WireFormat(rawValue: rawValue) }
}
