import ArgumentParser
import CleaveIR
import CleavePlan
import CleaveRuntime

/// `--adaptive` and its options, shared by `plan` and `split`.
struct AdaptiveOptions: ParsableArguments {
    static let defaultRange = "0.5Mbps-200Mbps", defaultMaxCuts = 4

    @Flag(help: "Plan for a whole range of bandwidths: keep every cut that is the best somewhere in --bandwidth-range (split: write them all into one pair of bundles).")
    var adaptive = false

    @Option(name: .customLong("bandwidth-range"), help: ArgumentHelp("With --adaptive: the bandwidths to plan for, LOW-HIGH, e.g. 0.5Mbps-200Mbps.", valueName: "range"))
    var bandwidthRange = AdaptiveOptions.defaultRange

    @Option(name: .customLong("max-cuts"), help: "With --adaptive: keep at most this many optimal cuts (those that gain under 5% over the others everywhere are dropped first).")
    var maxCuts = AdaptiveOptions.defaultMaxCuts

    @Flag(name: .customLong("no-edge-fallback"), help: "With --adaptive: do not add edge-only as the fallback for an unreachable server (the edge bundle then need not hold the whole model).")
    var noEdgeFallback = false

    func validate() throws {
        guard adaptive || (bandwidthRange == AdaptiveOptions.defaultRange && maxCuts == AdaptiveOptions.defaultMaxCuts && !noEdgeFallback) else {
            throw ValidationError("--bandwidth-range, --max-cuts and --no-edge-fallback need --adaptive")
        }
        guard maxCuts >= 1 else { throw ValidationError("--max-cuts must be at least 1") }
        _ = try range()
    }

    /// The range in bits per second.
    func range() throws -> (lower: Double, upper: Double) {
        let parts = bandwidthRange.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        let usage = "--bandwidth-range '\(bandwidthRange)' must be LOW-HIGH with LOW < HIGH, e.g. 0.5Mbps-200Mbps"
        guard parts.count == 2 else { throw ValidationError(usage) }
        do {
            let (lower, upper) = (try Link.parseBandwidth(parts[0]), try Link.parseBandwidth(parts[1]))
            guard lower < upper else { throw ValidationError(usage) }
            return (lower, upper)
        } catch let error as CleaveError {
            throw ValidationError("--bandwidth-range: \(error.message)")
        }
    }

    /// The adaptive plan of `graph` with `planning`'s profiles, RTT and codec; its default cut is the best at `planning`'s link.
    func plan(graph: Graph, analysis: Analysis, planning: PlanOptions, calibration: [String: Tensor]) throws -> AdaptivePlan {
        let (edge, cloud) = try planning.profiles()
        let (lower, upper) = try range()
        let link = try planning.link()
        let sizes = try planning.measuredSizes(graph: graph, analysis: analysis, inputs: calibration)
        return try Planner.adaptivePlan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                        lowerBitsPerSecond: lower, upperBitsPerSecond: upper, rttMilliseconds: link.rttMilliseconds,
                                        defaultLink: link, codec: planning.codec,
                                        boundaryBytes: sizes.map { table in { table[$0] ?? analysis.types[$0]?.byteCount ?? 0 } },
                                        maxCuts: maxCuts, edgeFallback: !noEdgeFallback)
    }
}
