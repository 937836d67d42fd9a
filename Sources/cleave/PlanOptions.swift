import ArgumentParser
import CleaveIR
import CleavePlan
import CleaveRuntime

/// The options that choose devices, link and codec for a plan; shared by
/// `plan` and `split`.
struct PlanOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The edge device's profile (from `cleave profile`; default: the built-in edge profile).", valueName: "file"))
    var edge: String?

    @Option(help: ArgumentHelp("The cloud server's profile (default: the built-in cloud profile).", valueName: "file"))
    var cloud: String?

    @Option(help: ArgumentHelp("Link bandwidth from edge to cloud, e.g. 10Mbps, 1.5Gbps, 500kbps.", valueName: "rate"))
    var bandwidth: String?

    @Option(help: ArgumentHelp("Round-trip time of the link, e.g. 20ms, 0.5s.", valueName: "time"))
    var rtt: String = "20ms"

    @Option(name: .customLong("boundary-codec"),
            help: ArgumentHelp("How boundary tensors travel: none (raw), int8 (1 byte per value), or int8+zlib (int8, deflated; sizes measured on a run).",
                               valueName: "codec"))
    var boundaryCodec: String = "none"

    func validate() throws {
        if let bandwidth { _ = try usage { try Link.parseBandwidth(bandwidth) } }
        _ = try usage { try Link.parseDuration(rtt) }
        guard BoundaryCodec(rawValue: boundaryCodec) != nil else {
            throw ValidationError("--boundary-codec must be one of \(BoundaryCodec.allCases.map(\.rawValue).joined(separator: ", ")), got '\(boundaryCodec)'")
        }
    }

    /// The link, with `fallback` when no --bandwidth was given.
    func link(fallback: Link = .default) throws -> Link {
        try usage { Link(bitsPerSecond: try bandwidth.map(Link.parseBandwidth) ?? fallback.bitsPerSecond,
                         rttMilliseconds: try Link.parseDuration(rtt)) }
    }

    var codec: BoundaryCodec { BoundaryCodec(rawValue: boundaryCodec) ?? .none }

    /// The edge and cloud profiles: the files given, or the built-in ones.
    func profiles() throws -> (edge: DeviceProfile, cloud: DeviceProfile) {
        (try edge.map(DeviceProfile.load) ?? .builtInEdge, try cloud.map(DeviceProfile.load) ?? .builtInCloud)
    }

    /// Byte counts of every tensor under the codec: measured by a run for
    /// int8+zlib (on `inputs`, e.g. the --calibration data, else a synthetic one), nil otherwise.
    func measuredSizes(graph: Graph, analysis: Analysis, inputs: [String: Tensor]) throws -> [String: Int]? {
        guard codec == .int8Zlib else { return nil }
        return try BoundarySizes.measure(graph: graph, analysis: analysis, inputs: inputs, codec: codec)
    }

    /// Plans `graph` with these options (profiles, link, codec).
    func plan(graph: Graph, analysis: Analysis, calibration: [String: Tensor], maxCandidates: Int = 12) throws -> Plan {
        let (edge, cloud) = try profiles()
        let sizes = try measuredSizes(graph: graph, analysis: analysis, inputs: calibration)
        return try Planner.plan(graph: graph, analysis: analysis, edge: edge, cloud: cloud, link: try link(),
                                codec: codec, boundaryBytes: sizes.map { table in { table[$0] ?? analysis.types[$0]?.byteCount ?? 0 } },
                                maxCandidates: maxCandidates)
    }

    /// Runs `body`, turning a usage `CleaveError` into an argument-parser
    /// validation error (exit 64 with the parser's usage line).
    private func usage<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CleaveError where error.kind == .usage {
            throw ValidationError(error.message)
        }
    }
}
