import AsyncHTTPClient
import CleaveBundle
import CleaveIR
import CleaveRuntime
import Foundation

/// The link as the edge sees it from its own requests: bandwidth and RTT,
/// each a moving estimate (exponential, weight `smoothing` for the newest sample;
/// bandwidth averaged in log space, and a sample more than 3× off the estimate
/// weighted 0.9, so that a 100× drop shows after one request).
///
/// - RTT samples come from a tiny request (`GET /v2/health/ready`) sent while
///   the edge half computes.
/// - Bandwidth samples come from inference requests: the bytes sent and
///   received over (round trip − server compute time − estimated RTT). A
///   sample whose net time is under 0.05 ms is taken as 0.05 ms, so a fast
///   link reads as fast, not infinite.
public struct LinkEstimator: Sendable, Equatable {
    public var bitsPerSecond: Double
    public var rttMilliseconds: Double
    /// Bandwidth samples seen (0: `bitsPerSecond` is still the prior).
    public var samples = 0
    public var smoothing: Double

    public init(bitsPerSecond: Double, rttMilliseconds: Double, smoothing: Double = 0.5) {
        self.bitsPerSecond = bitsPerSecond
        self.rttMilliseconds = rttMilliseconds
        self.smoothing = smoothing
    }

    public mutating func observeRoundTrip(milliseconds: Double) {
        guard milliseconds.isFinite, milliseconds >= 0 else { return }
        rttMilliseconds += smoothing * (milliseconds - rttMilliseconds)
    }

    /// One transfer of `bytes` (both directions) that took `milliseconds` on the wire (RTT included).
    public mutating func observeTransfer(bytes: Int, milliseconds: Double) {
        guard bytes > 0, milliseconds.isFinite else { return }
        let net = Swift.max(milliseconds - rttMilliseconds, 0.05)
        let sample = Swift.min(Double(bytes) * 8 / (net / 1000), 1e11)
        // A sample 3x off the estimate is a new regime (Wi-Fi to LTE), not noise: follow it almost at once.
        let step = log(sample) - log(bitsPerSecond)
        let weight = abs(step) > log(3.0) ? 0.9 : smoothing
        bitsPerSecond = samples == 0 ? sample : exp(log(bitsPerSecond) + weight * step)
        samples += 1
    }
}

/// Runs an adaptive edge bundle (`cleave split --adaptive`) against its cloud
/// half on a KServe v2 server, choosing the cut for every request from the
/// link it measures (`cleave run EDGE --remote URL --adaptive`).
///
/// For each request: the predicted total of every cut is its edge time + RTT +
/// boundary bits ÷ bandwidth + its cloud time (edge-only: its edge time alone),
/// with the edge and cloud times the plan's predictions scaled by how the
/// measured runs have compared with them (per cut, once the cut has run). The
/// cut with the lowest prediction runs, unless the one that ran last is within
/// `hysteresis` (10 %) of it: then that one stays, so that the choice does not
/// flap on noise.
///
/// Failure is a regime too: when the server cannot be reached or a request
/// times out, the request runs edge-only (the whole model, which the bundle
/// holds unless it was written with `--no-edge-fallback`), and until a probe
/// every `probeInterval` seconds reaches the server again every request does.
/// While it runs edge-only on a reachable server, the runner sends the
/// request's inputs to the cloud-only cut in the background now and then
/// (at most one at a time), so that it notices when the link recovers.
public final class AdaptiveRunner: @unchecked Sendable {
    /// What one request did.
    public struct Outcome: Sendable {
        public var outputs: [String: Tensor]
        /// The cut that ran, and why.
        public var cut: String
        public var reason: String
        /// True when the request ran edge-only because the server could not be reached.
        public var fellBack: Bool
        /// Where the time went, for a request that reached the server.
        public var breakdown: RemoteBreakdown?
        public var totalMilliseconds: Double
        /// The estimate the choice was made on.
        public var estimate: LinkEstimator
        /// Every cut's predicted total at that estimate.
        public var predicted: [(cut: String, milliseconds: Double)]
    }

    /// A cut as the runner knows it.
    struct CutModel {
        var id: String
        var placement: String
        var boundaryBytes: Int
        var predictedEdge: Double
        var predictedCloud: Double
        /// Measured ÷ predicted, once the cut has run (moving, like the link).
        var edgeScale: Double?
        var cloudScale: Double?
        var isEdgeOnly: Bool { placement == "edge-only" }
        var isCloudOnly: Bool { placement == "cloud-only" }
    }

    public let edge: LoadedBundle
    public let baseURL: String
    public let codec: BoundaryCodec
    /// Changes the emulated link between requests (`--link-schedule`); seconds since the first request.
    public var schedule: LinkSchedule?
    /// A fixed emulated link when there is no schedule.
    public var link: LinkEmulation?
    public var timeoutSeconds: Double
    /// As `RemoteRunner.edgeSlowdown`, for every edge run.
    public var edgeSlowdown: Double = 1
    public var hysteresis = 0.1
    public var probeInterval = 1.0
    /// The model's outputs in order (as `RemoteRunner.outputNames`).
    public private(set) var outputNames: [String]

    private let options: SessionOptions
    private let client: HTTPClient
    private let modelName: String?
    private let lock = NSLock()
    private var cuts: [CutModel]
    private var runners: [String: RemoteRunner] = [:]
    private var probe: RemoteRunner?
    private var edgeOnly: Session?
    private var estimator: LinkEstimator
    private var current: String?
    private var serverDown: String?
    private var lastProbe = -Double.infinity
    private var probing = false
    private var started: Double?

    /// - Parameters:
    ///   - edge: a version-2 edge bundle (several cuts).
    ///   - modelName: the served name of the default cut (default: the one `cleave serve` gives it); cut `c` is `NAME.c`.
    ///   - prior: the link assumed before the first measurement (default: the geometric mean of the
    ///     plan's bandwidth range and its RTT, else 10 Mbps and 20 ms).
    /// - Throws: `CleaveError.badInput` when the bundle is not a multi-cut edge bundle.
    public init(edge: LoadedBundle, url: String, modelName: String? = nil, codec: BoundaryCodec, timeoutSeconds: Double = 30,
                prior: LinkEstimator? = nil, options: SessionOptions = SessionOptions(), client: HTTPClient = .shared) throws {
        guard edge.manifest.role == .edge else {
            throw CleaveError.badInput("\(edge.path): is a \(edge.manifest.role.rawValue) bundle; --adaptive runs an edge bundle")
        }
        guard edge.manifest.version >= 2, edge.manifest.cuts.count > 1 else {
            throw CleaveError.badInput("\(edge.path): holds a single cut; --adaptive needs a bundle written by `cleave split --adaptive`")
        }
        self.edge = edge
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        self.codec = codec
        self.timeoutSeconds = timeoutSeconds
        self.options = options
        self.client = client
        self.modelName = modelName
        cuts = edge.manifest.cuts.map { cut in
            let plan = cut.plan
            let bytes = plan?["boundary_bytes"]?.intValue ?? cut.boundary.reduce(0) { $0 + $1.tensor.type.byteCount }
            return CutModel(id: cut.id, placement: plan?["placement"]?.stringValue ?? (cut.boundary.isEmpty ? "edge-only" : "split"),
                            boundaryBytes: bytes, predictedEdge: plan?["edge_ms"]?.doubleValue ?? 0,
                            predictedCloud: plan?["cloud_ms"]?.doubleValue ?? 0)
        }
        let adaptive = edge.manifest.plan?["adaptive"]
        estimator = prior ?? LinkEstimator(
            bitsPerSecond: adaptive.flatMap { plan in
                plan["bandwidth_range"].flatMap { range in
                    (range["lower_bps"]?.doubleValue).flatMap { lower in range["upper_bps"]?.doubleValue.map { (lower * $0).squareRoot() } }
                }
            } ?? 10e6,
            rttMilliseconds: adaptive?["rtt_ms"]?.doubleValue ?? 20)
        // The whole model's outputs: edge-only's, or else what the first server metadata says.
        outputNames = edge.manifest.cuts.first { $0.plan?["placement"]?.stringValue == "edge-only" }?.outputs.map(\.name) ?? []
    }

    /// The link estimate now.
    public var estimate: LinkEstimator { lock.withLock { estimator } }

    /// The served name of cut `id`.
    func servedName(_ id: String) -> String {
        ServedModel.cutName(modelName ?? ServedModel.defaultName(for: edge.manifest), id)
    }

    /// The emulated link now.
    private func emulated(_ now: Double) -> LinkEmulation? {
        guard let schedule else { return link }
        return schedule.link(at: now - (started ?? now))
    }

    /// Runs one request on the cut of the lowest predicted total.
    /// - Throws: `CleaveError.badInput` for inputs the model refuses or a server answer that is malformed;
    ///   never for an unreachable server (the request then runs edge-only), unless the bundle has no edge-only cut.
    public func run(_ inputs: [String: Tensor]) async throws -> Outcome {
        let now = Session.now()
        if started == nil { started = now }
        let (choice, reason, predicted, estimateUsed) = lock.withLock { choose() }
        let start = Session.now()
        if cuts[choice].isEdgeOnly {
            let outputs = try runEdgeOnly(inputs)
            try await RemoteRunner.emulateSlowdown(edgeSlowdown, since: start)
            let total = (Session.now() - start) * 1000
            record(edgeOf: choice, milliseconds: total)
            maybeProbe(inputs)
            return Outcome(outputs: outputs, cut: cuts[choice].id, reason: reason, fellBack: false, breakdown: nil,
                           totalMilliseconds: total, estimate: estimateUsed, predicted: predicted)
        }
        do {
            let runner = try await remote(choice)
            runner.link = emulated(now)
            runner.edgeSlowdown = edgeSlowdown
            // The RTT probe runs while the edge half computes.
            async let roundTrip = probeRoundTrip(link: runner.link)
            let (outputs, breakdown) = try await runner.run(inputs)
            let rtt = await roundTrip
            lock.withLock {
                if let rtt { estimator.observeRoundTrip(milliseconds: rtt) }
                estimator.observeTransfer(bytes: breakdown.wireBytes, milliseconds: breakdown.transferMilliseconds)
                scale(choice, edge: breakdown.edgeMilliseconds, cloud: breakdown.cloudMilliseconds)
                current = cuts[choice].id
                serverDown = nil
            }
            return Outcome(outputs: outputs, cut: cuts[choice].id, reason: reason, fellBack: false, breakdown: breakdown,
                           totalMilliseconds: (Session.now() - start) * 1000, estimate: estimateUsed, predicted: predicted)
        } catch let error as CleaveError where error.kind == .io {
            lock.withLock {
                serverDown = error.message
                lastProbe = Session.now()
            }
            guard let fallback = cuts.firstIndex(where: \.isEdgeOnly) else { throw error }
            let fallbackStart = Session.now()
            let outputs = try runEdgeOnly(inputs)
            try await RemoteRunner.emulateSlowdown(edgeSlowdown, since: fallbackStart)
            return Outcome(outputs: outputs, cut: cuts[fallback].id, reason: "server unreachable (\(error.message)): ran edge-only",
                           fellBack: true, breakdown: nil, totalMilliseconds: (Session.now() - start) * 1000,
                           estimate: estimateUsed, predicted: predicted)
        }
    }

    // MARK: choosing

    /// Predicted total of cut `i` at the current estimate (lock held).
    private func predictedTotal(_ i: Int) -> Double {
        let cut = cuts[i]
        let edgeMs = cut.predictedEdge * (cut.edgeScale ?? averageScale(\.edgeScale))
        guard !cut.isEdgeOnly else { return edgeMs }
        let cloudMs = cut.predictedCloud * (cut.cloudScale ?? averageScale(\.cloudScale))
        return edgeMs + estimator.rttMilliseconds + Double(cut.boundaryBytes) * 8 / estimator.bitsPerSecond * 1000 + cloudMs
    }

    /// The mean measured/predicted ratio over the cuts that have run, 1 before any has.
    private func averageScale(_ key: KeyPath<CutModel, Double?>) -> Double {
        let seen = cuts.compactMap { $0[keyPath: key] }
        return seen.isEmpty ? 1 : seen.reduce(0, +) / Double(seen.count)
    }

    /// The cut to run and why (lock held).
    private func choose() -> (Int, String, [(cut: String, milliseconds: Double)], LinkEstimator) {
        let totals = cuts.indices.map { predictedTotal($0) }
        let predicted = cuts.indices.map { (cuts[$0].id, totals[$0]) }
        let estimate = "\(Self.rate(estimator.bitsPerSecond))\(estimator.samples == 0 ? " (prior)" : ""), RTT \(Self.ms(estimator.rttMilliseconds))"
        if let down = serverDown, let fallback = cuts.firstIndex(where: \.isEdgeOnly) {
            return (fallback, "server unreachable since a request failed (\(down)); edge-only until a probe reaches it", predicted, estimator)
        }
        let retrying = serverDown.map { "server unreachable (\($0)) and no edge-only cut to fall back on: retrying; " } ?? ""
        let candidates = Array(cuts.indices)
        guard let best = candidates.min(by: { totals[$0] < totals[$1] }) else { return (0, retrying, predicted, estimator) }
        let runnerUp = candidates.filter { $0 != best }.min { totals[$0] < totals[$1] }
        if let current, let kept = cuts.firstIndex(where: { $0.id == current }), kept != best,
           totals[kept] <= totals[best] * (1 + hysteresis) {
            return (kept, "estimate \(estimate): kept \(cuts[kept].id) (\(Self.ms(totals[kept]))), within \(Int(hysteresis * 100))% of the best \(cuts[best].id) (\(Self.ms(totals[best])))", predicted, estimator)
        }
        let next = runnerUp.map { ", next \(cuts[$0].id) \(Self.ms(totals[$0]))" } ?? ""
        return (best, "\(retrying)estimate \(estimate): \(cuts[best].id) predicted \(Self.ms(totals[best]))\(next)", predicted, estimator)
    }

    private func scale(_ i: Int, edge: Double, cloud: Double) {
        func blend(_ old: Double?, _ measured: Double, _ predicted: Double) -> Double? {
            guard predicted > 0, measured > 0 else { return old }
            let ratio = measured / predicted
            return old.map { $0 + 0.5 * (ratio - $0) } ?? ratio
        }
        cuts[i].edgeScale = blend(cuts[i].edgeScale, edge, cuts[i].predictedEdge)
        cuts[i].cloudScale = blend(cuts[i].cloudScale, cloud, cuts[i].predictedCloud)
    }

    private func record(edgeOf i: Int, milliseconds: Double) {
        lock.withLock {
            scale(i, edge: milliseconds, cloud: 0)
            current = cuts[i].id
        }
    }

    // MARK: running

    private func runEdgeOnly(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        if edgeOnly == nil {
            guard let id = cuts.first(where: \.isEdgeOnly)?.id else {
                throw CleaveError.badInput("\(edge.path): has no edge-only cut to fall back on (written with --no-edge-fallback)")
            }
            edgeOnly = try edge.cut(id).session(options: options)
        }
        guard let session = edgeOnly else { return [:] }
        return try session.run(inputs)
    }

    /// The remote runner of cut `i`, created on first use (which reads the server's metadata for it).
    private func remote(_ i: Int) async throws -> RemoteRunner {
        let id = cuts[i].id
        if let runner = lock.withLock({ runners[id] }) { return runner }
        let runner = try await RemoteRunner(edge: try edge.cut(id), url: baseURL, modelName: servedName(id), codec: codec,
                                            options: options, client: client, timeoutSeconds: timeoutSeconds)
        lock.withLock {
            runners[id] = runner
            if outputNames.isEmpty { outputNames = runner.outputNames }
        }
        return runner
    }

    /// The cloud-only cut's runner for background probes: its own, since a session
    /// must not run two requests at once and `run` may pick cloud-only meanwhile.
    private func probeRunner(_ i: Int) async throws -> RemoteRunner {
        if let runner = lock.withLock({ probe }) { return runner }
        let runner = try await RemoteRunner(edge: try edge.cut(cuts[i].id), url: baseURL, modelName: servedName(cuts[i].id), codec: codec,
                                            options: options, client: client, timeoutSeconds: timeoutSeconds)
        lock.withLock { probe = runner }
        return runner
    }

    /// A `GET /v2/health/ready` round trip (with the emulated link's RTT), nil if it failed.
    private func probeRoundTrip(link: LinkEmulation?) async -> Double? {
        let start = Session.now()
        if let link { try? await Task.sleep(nanoseconds: UInt64(link.oneWaySeconds(bytes: 0) * 2e9)) }
        guard let (status, _, _) = try? await RemoteRunner.send(HTTPClientRequest(url: "\(baseURL)/v2/health/ready"), client: client,
                                                                 limit: 1 << 16, timeoutSeconds: min(5, timeoutSeconds)),
              status == 200 else { return nil }
        return (Session.now() - start) * 1000
    }

    /// While running edge-only: every `probeInterval` seconds, in the background, either
    /// check that a server thought down is back, or send these inputs to the cloud-only cut to measure the link.
    private func maybeProbe(_ inputs: [String: Tensor]) {
        let now = Session.now()
        let (due, down) = lock.withLock { () -> (Bool, Bool) in
            guard !probing, now - lastProbe >= probeInterval else { return (false, false) }
            probing = true
            lastProbe = now
            return (true, serverDown != nil)
        }
        guard due else { return }
        let link = emulated(now)
        let cloudOnly = cuts.firstIndex(where: \.isCloudOnly)
        Task.detached { [self] in
            defer { lock.withLock { probing = false } }
            if down {
                if await probeRoundTrip(link: link) != nil { lock.withLock { serverDown = nil } }
                return
            }
            guard let cloudOnly, let runner = try? await probeRunner(cloudOnly) else { return }
            runner.link = link
            async let roundTrip = probeRoundTrip(link: link)
            guard let (_, breakdown) = try? await runner.run(inputs) else { return }
            let rtt = await roundTrip
            lock.withLock {
                if let rtt { estimator.observeRoundTrip(milliseconds: rtt) }
                estimator.observeTransfer(bytes: breakdown.wireBytes, milliseconds: breakdown.transferMilliseconds)
                scale(cloudOnly, edge: breakdown.edgeMilliseconds, cloud: breakdown.cloudMilliseconds)
            }
        }
    }

    static func ms(_ value: Double) -> String { value >= 100 ? "\(Int(value.rounded())) ms" : String(format: "%.1f ms", value) }

    static func rate(_ bps: Double) -> String {
        bps >= 1e9 ? String(format: "%.2f Gbps", bps / 1e9) : bps >= 1e6 ? String(format: "%.2f Mbps", bps / 1e6) : String(format: "%.0f kbps", bps / 1e3)
    }
}
