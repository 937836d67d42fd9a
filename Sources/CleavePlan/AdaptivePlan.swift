import CleaveIR
import CleaveRuntime

/// One cut of an adaptive plan, with the bandwidths where it is the best of the kept cuts.
public struct AdaptiveCut: Sendable {
    /// Why a cut is in the bundle.
    public enum Reason: String, Sendable {
        /// The best kept cut somewhere in the bandwidth range.
        case optimal
        /// Edge-only, kept so that the edge can run alone when the server is unreachable.
        case fallback
        /// Cloud-only, kept so that the runner can measure the link while it runs edge-only.
        case probe
    }

    /// `c0`, `c1`, … from the fewest edge nodes to the most.
    public var id: String
    public var reason: Reason
    /// The cut as the planner predicts it; its transfer term is at the plan's default bandwidth.
    public var candidate: PlanCandidate
    /// Bits per second where this cut is the best kept one (lower, upper), nil if nowhere in the range.
    public var interval: (lower: Double, upper: Double)?

    public var placement: PlanCandidate.Placement { candidate.placement }

    /// Predicted edge, transfer and cloud milliseconds on a link of `bitsPerSecond` and `rttMilliseconds`.
    public func predicted(bitsPerSecond: Double, rttMilliseconds: Double) -> (edge: Double, transfer: Double, cloud: Double) {
        let transfer = candidate.placement == .edgeOnly ? 0
            : Double(candidate.boundaryBytes) * 8 / bitsPerSecond * 1000 + rttMilliseconds
        return (candidate.edgeMilliseconds, transfer, candidate.cloudMilliseconds)
    }

    public func totalMilliseconds(bitsPerSecond: Double, rttMilliseconds: Double) -> Double {
        let p = predicted(bitsPerSecond: bitsPerSecond, rttMilliseconds: rttMilliseconds)
        return p.edge + p.transfer + p.cloud
    }
}

/// The cuts worth having over a range of bandwidths (`cleave plan --adaptive`,
/// `cleave split --adaptive`).
///
/// At a fixed RTT every partition's predicted total is a line in x = 1/bandwidth
/// (compute + RTT, plus boundary bits × x), so the optimum over all partitions
/// is the lower envelope of those lines: concave and piecewise linear in x.
/// `Planner.adaptivePlan` finds its pieces exactly by parametric search: if one
/// partition is optimal at both ends of an interval it is optimal throughout
/// (concavity); otherwise the optimum at the crossing of the two ends' lines is
/// either on both lines (a breakpoint) or a new partition that splits the interval.
public struct AdaptivePlan: Sendable {
    /// Kept cuts, ordered from cloud-only towards edge-only.
    public var cuts: [AdaptiveCut]
    /// Index in `cuts` of the cut a plain (non-adaptive) client uses: the best at
    /// the plan's default link among the cuts that have a cloud half.
    public var defaultIndex: Int
    /// Bandwidth range searched, bits per second.
    public var lowerBitsPerSecond: Double
    public var upperBitsPerSecond: Double
    public var rttMilliseconds: Double
    public var defaultLink: Link
    public var codec: BoundaryCodec
    public var edgeProfile: DeviceProfile
    public var cloudProfile: DeviceProfile
    /// Every distinct optimum the search found, before any was dropped, with its interval, from low bandwidth to high.
    public var envelope: [(label: String, lower: Double, upper: Double)]
    /// The largest loss (relative to the full envelope) that dropping cuts costs anywhere in the range.
    public var worstLoss: Double

    public var defaultCut: AdaptiveCut { cuts[defaultIndex] }

    /// The kept cut with the lowest predicted total at `bitsPerSecond`.
    public func best(bitsPerSecond: Double, rttMilliseconds: Double? = nil) -> AdaptiveCut {
        let rtt = rttMilliseconds ?? self.rttMilliseconds
        return cuts.min { $0.totalMilliseconds(bitsPerSecond: bitsPerSecond, rttMilliseconds: rtt) < $1.totalMilliseconds(bitsPerSecond: bitsPerSecond, rttMilliseconds: rtt) } ?? cuts[0]
    }

    /// `{"bandwidth_range": {"lower_bps", "upper_bps"}, "rtt_ms", "codec", "default_cut", "worst_loss",
    /// "cuts": [{"id", "label", "reason", "placement", "boundary": [{"name", "bytes"}], "boundary_bytes",
    /// "edge_nodes", "edge_ms", "cloud_ms", "interval": {"lower_bps", "upper_bps"} | null,
    /// "at_lower": {"edge_ms", "transfer_ms", "cloud_ms", "total_ms"} | null, "at_upper": … | null}],
    /// "envelope": [{"label", "lower_bps", "upper_bps"}]}`.
    public var json: JSON {
        .object([
            ("bandwidth_range", .object([("lower_bps", .double(lowerBitsPerSecond)), ("upper_bps", .double(upperBitsPerSecond))])),
            ("rtt_ms", .double(rttMilliseconds)),
            ("codec", .string(codec.rawValue)),
            ("default_cut", .string(defaultCut.id)),
            ("worst_loss", .double(worstLoss)),
            ("cuts", .array(cuts.map(cutJSON))),
            ("envelope", .array(envelope.map { .object([("label", .string($0.label)), ("lower_bps", .double($0.lower)), ("upper_bps", .double($0.upper))]) })),
        ])
    }

    /// One cut as JSON (the `cuts` members of `json`, also recorded in the bundle manifests).
    public func cutJSON(_ cut: AdaptiveCut) -> JSON {
        func at(_ bps: Double) -> JSON {
            let p = cut.predicted(bitsPerSecond: bps, rttMilliseconds: rttMilliseconds)
            return .object([("edge_ms", .double(p.edge)), ("transfer_ms", .double(p.transfer)),
                            ("cloud_ms", .double(p.cloud)), ("total_ms", .double(p.edge + p.transfer + p.cloud))])
        }
        let c = cut.candidate
        return .object([
            ("id", .string(cut.id)), ("label", .string(c.label)), ("reason", .string(cut.reason.rawValue)),
            ("placement", .string(c.placement.rawValue)),
            ("boundary", .array(c.boundary.map { .object([("name", .string($0.name)), ("bytes", .int($0.bytes))]) })),
            ("boundary_bytes", .int(c.boundaryBytes)), ("edge_nodes", .int(c.edgeNodes.count)),
            ("edge_ms", .double(c.edgeMilliseconds)), ("cloud_ms", .double(c.cloudMilliseconds)),
            ("interval", cut.interval.map { .object([("lower_bps", .double($0.lower)), ("upper_bps", .double($0.upper))]) } ?? .null),
            ("at_lower", cut.interval.map { at($0.lower) } ?? .null),
            ("at_upper", cut.interval.map { at($0.upper) } ?? .null),
        ])
    }

    /// The cuts as a text table: where each is best, and its predicted stages at both ends.
    public func table() -> String {
        let header = ["", "id", "cut", "boundary", "best from", "to", "edge ms", "transfer ms", "cloud ms", "total ms"]
        var rows: [[String]] = []
        for (i, cut) in cuts.enumerated() {
            let c = cut.candidate
            let bytes = c.placement == .edgeOnly ? "-" : byteString(c.boundaryBytes)
            let mark = i == defaultIndex ? "*" : ""
            guard let interval = cut.interval else {
                let p = cut.predicted(bitsPerSecond: defaultLink.bitsPerSecond, rttMilliseconds: rttMilliseconds)
                rows.append([mark, cut.id, c.label, bytes, "(\(cut.reason.rawValue))", "", milliseconds(p.edge),
                             milliseconds(p.transfer), milliseconds(p.cloud), milliseconds(p.edge + p.transfer + p.cloud)])
                continue
            }
            func cells(_ bps: Double) -> [String] {
                let p = cut.predicted(bitsPerSecond: bps, rttMilliseconds: rttMilliseconds)
                return [milliseconds(p.edge), milliseconds(p.transfer), milliseconds(p.cloud), milliseconds(p.edge + p.transfer + p.cloud)]
            }
            // Both ends of the interval, lower bandwidth first: "a → b" per stage.
            let low = cells(interval.lower), high = cells(interval.upper)
            rows.append([mark, cut.id, c.label, bytes, Link.describe(bitsPerSecond: interval.lower), Link.describe(bitsPerSecond: interval.upper)]
                        + zip(low, high).map { $0 == $1 ? $0 : "\($0) → \($1)" })
        }
        return textTable(header, rows, rightAligned: [3, 4, 5, 6, 7, 8, 9])
    }
}

extension Planner {
    /// The cuts worth having between `lowerBitsPerSecond` and `upperBitsPerSecond` at `rttMilliseconds`.
    ///
    /// The exact envelope (see `AdaptivePlan`) is thinned: while more than
    /// `maxCuts` remain, or one of them improves on the others by less than
    /// `minimumGain` (relative) everywhere, the cut whose removal costs least is
    /// dropped; the cost of a removal is the largest relative rise of the
    /// envelope anywhere in the range (exact: see the code). Then
    /// edge-only (`edgeFallback`) and cloud-only (`probe`) are added if missing.
    /// - Parameters:
    ///   - defaultLink: the link whose best cut (with a cloud half) is the default.
    public static func adaptivePlan(graph: Graph, analysis: Analysis, edge: DeviceProfile, cloud: DeviceProfile,
                                    lowerBitsPerSecond: Double, upperBitsPerSecond: Double, rttMilliseconds: Double,
                                    defaultLink: Link? = nil, codec: BoundaryCodec, boundaryBytes: ((String) -> Int)? = nil,
                                    maxCuts: Int = 4, minimumGain: Double = 0.05,
                                    edgeFallback: Bool = true, probe: Bool = true) throws -> AdaptivePlan {
        guard lowerBitsPerSecond > 0, lowerBitsPerSecond < upperBitsPerSecond, upperBitsPerSecond.isFinite else {
            throw CleaveError(.usage, "the bandwidth range must have 0 < lower < upper")
        }
        guard maxCuts >= 1 else { throw CleaveError(.usage, "--max-cuts must be at least 1") }
        let (edgeTimes, cloudTimes, sizes) = try costs(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                                       codec: codec, boundaryBytes: boundaryBytes)
        let defaultLink = defaultLink ?? Link(bitsPerSecond: (lowerBitsPerSecond * upperBitsPerSecond).squareRoot(), rttMilliseconds: rttMilliseconds)
        // Transfer costs enter the cut problem, so each bandwidth is its own problem;
        // candidates are always re-expressed at the default link.
        func optimum(_ bps: Double) throws -> (PlanCandidate, PlanCandidate, PlanCandidate) {
            let link = Link(bitsPerSecond: bps, rttMilliseconds: rttMilliseconds)
            let problem = PlanProblem(graph: graph, edgeTimes: edgeTimes, cloudTimes: cloudTimes, sizes: sizes, link: link)
            return try problem.optimum(context: Plan.Context(edgeRunOverhead: edge.runOverhead, cloudRunOverhead: cloud.runOverhead, link: link))
        }
        // A candidate's total as a line in x = 1/bps (ms): fixed + slope · x.
        func fixed(_ c: PlanCandidate) -> Double { c.edgeMilliseconds + c.cloudMilliseconds + (c.placement == .edgeOnly ? 0 : rttMilliseconds) }
        func slope(_ c: PlanCandidate) -> Double { c.placement == .edgeOnly ? 0 : Double(c.boundaryBytes) * 8000 }
        func total(_ c: PlanCandidate, _ x: Double) -> Double { fixed(c) + slope(c) * x }

        // Parametric search from high bandwidth (small x) to low.
        let (first, edgeOnly, cloudOnly) = try optimum(upperBitsPerSecond)
        let (last, _, _) = try optimum(lowerBitsPerSecond)
        var pieces: [(PlanCandidate, Double)] = []  // candidate and the x where its piece starts
        func search(_ a: PlanCandidate, _ xa: Double, _ b: PlanCandidate, _ xb: Double, depth: Int) throws {
            guard a.edgeNodes != b.edgeNodes, depth < 64 else { return }
            let ds = slope(a) - slope(b)
            guard ds > 0 else { return }  // b cannot overtake a at larger x
            let x = (fixed(b) - fixed(a)) / ds
            guard x > xa, x < xb else { return }
            let (c, _, _) = try optimum(1 / x)
            if total(c, x) >= total(a, x) * (1 - 1e-9) - 1e-9 || c.edgeNodes == a.edgeNodes || c.edgeNodes == b.edgeNodes {
                pieces.append((b, x))
            } else {
                try search(a, xa, c, x, depth: depth + 1)
                try search(c, x, b, xb, depth: depth + 1)
            }
        }
        let xLow = 1 / upperBitsPerSecond, xHigh = 1 / lowerBitsPerSecond
        pieces.append((first, xLow))
        try search(first, xLow, last, xHigh, depth: 0)
        // Merge neighbours that are the same partition (found by two routes).
        var envelope: [(PlanCandidate, Double)] = []
        for piece in pieces.sorted(by: { $0.1 < $1.1 }) where envelope.last?.0.edgeNodes != piece.0.edgeNodes {
            envelope.append(piece)
        }
        func interval(_ i: Int, of list: [(PlanCandidate, Double)]) -> (lower: Double, upper: Double) {
            let xEnd = i + 1 < list.count ? list[i + 1].1 : xHigh
            return (1 / xEnd, 1 / list[i].1)
        }

        // Thin the envelope. Both envelopes (of all cuts and of the kept ones) are
        // piecewise linear with breaks only where two lines cross, and a ratio of
        // linear functions is monotone between breaks: so the loss, evaluated at
        // the range's ends and every crossing, is exact.
        let lines = envelope.map(\.0) + [edgeOnly, cloudOnly]
        var points = [xLow, xHigh]
        for (i, a) in lines.enumerated() {
            for b in lines[(i + 1)...] where slope(a) != slope(b) {
                let x = (fixed(b) - fixed(a)) / (slope(a) - slope(b))
                if x > xLow && x < xHigh { points.append(x) }
            }
        }
        points.sort()
        var kept = envelope.map(\.0)
        func envelopeValue(_ set: [PlanCandidate], _ x: Double) -> Double { set.map { total($0, x) }.min() ?? .infinity }
        let full = points.map { envelopeValue(kept, $0) }
        func loss(_ set: [PlanCandidate]) -> Double {
            zip(points, full).map { x, f in envelopeValue(set, x) / f - 1 }.max() ?? 0
        }
        while kept.count > 1 {
            let current = loss(kept)
            let costs = kept.indices.map { i -> Double in
                var without = kept
                without.remove(at: i)
                return loss(without) - current
            }
            guard let cheapest = costs.indices.min(by: { costs[$0] < costs[$1] }),
                  kept.count > maxCuts || costs[cheapest] < minimumGain else { break }
            kept.remove(at: cheapest)
        }
        let worstLoss = loss(kept)

        // Where each kept cut is best among the kept ones: constant between consecutive points.
        var cuts: [(PlanCandidate, AdaptiveCut.Reason)] = kept.map { ($0, .optimal) }
        if edgeFallback, !kept.contains(where: { $0.placement == .edgeOnly }) { cuts.append((edgeOnly, .fallback)) }
        if probe, !kept.contains(where: { $0.placement == .cloudOnly }) { cuts.append((cloudOnly, .probe)) }
        cuts.sort { $0.0.edgeNodes.count < $1.0.edgeNodes.count }
        var intervals = [(lower: Double, upper: Double)?](repeating: nil, count: cuts.count)
        for (a, b) in zip(points, points.dropFirst()) where b > a {
            let middle = (a + b) / 2
            guard let best = cuts.indices.min(by: { total(cuts[$0].0, middle) < total(cuts[$1].0, middle) }) else { continue }
            let (lower, upper) = (1 / b, 1 / a)
            intervals[best] = intervals[best].map { (Swift.min($0.lower, lower), Swift.max($0.upper, upper)) } ?? (lower, upper)
        }

        var result: [AdaptiveCut] = []
        for (i, (candidate, reason)) in cuts.enumerated() {
            var c = candidate
            if c.placement == .split { c.label = "at " + shortList(c.boundary.map(\.name)) }
            c.transferMilliseconds = c.placement == .edgeOnly ? 0
                : defaultLink.serializationMilliseconds(bytes: c.boundaryBytes) + rttMilliseconds
            result.append(AdaptiveCut(id: "c\(i)", reason: intervals[i] == nil ? reason : .optimal, candidate: c, interval: intervals[i]))
        }
        let remote = result.indices.filter { result[$0].placement != .edgeOnly }
        let defaultIndex = remote.min {
            result[$0].totalMilliseconds(bitsPerSecond: defaultLink.bitsPerSecond, rttMilliseconds: defaultLink.rttMilliseconds)
                < result[$1].totalMilliseconds(bitsPerSecond: defaultLink.bitsPerSecond, rttMilliseconds: defaultLink.rttMilliseconds)
        } ?? 0
        return AdaptivePlan(
            cuts: result, defaultIndex: defaultIndex, lowerBitsPerSecond: lowerBitsPerSecond, upperBitsPerSecond: upperBitsPerSecond,
            rttMilliseconds: rttMilliseconds, defaultLink: defaultLink, codec: codec, edgeProfile: edge, cloudProfile: cloud,
            envelope: envelope.indices.reversed().map { i in
                let c = envelope[i].0
                let (lower, upper) = interval(i, of: envelope)
                return (c.placement == .split ? "at " + shortList(c.boundary.map(\.name)) : c.label, lower, upper)
            },
            worstLoss: worstLoss)
    }
}

/// `a, b +3`: the first two names and how many more.
func shortList(_ names: [String]) -> String {
    names.count > 2 ? names.prefix(2).joined(separator: ", ") + " +\(names.count - 2)" : names.joined(separator: ", ")
}

