import CleaveIR
import CleaveRuntime

/// One way to run a model: which nodes run on the edge, what crosses the
/// link, and the predicted time of each stage.
public struct PlanCandidate: Sendable {
    /// A tensor that crosses the link and its size on the wire under the plan's codec.
    public struct BoundaryTensor: Sendable, Equatable {
        public var name: String
        public var bytes: Int
    }

    public enum Placement: String, Sendable {
        /// Every node on the edge; nothing crosses, no round trip.
        case edgeOnly = "edge-only"
        /// Every node on the cloud; the model inputs cross.
        case cloudOnly = "cloud-only"
        /// Both sides have nodes.
        case split
    }

    /// "edge-only", "cloud-only", "after <tensor>" (the best cut with the
    /// node producing the tensor on the edge and the next node of the main
    /// path on the cloud), "at <tensor> (bottleneck)", or "min-cut" (the
    /// optimum when it is none of those).
    public var label: String
    /// The split for `cut`/`BundleWriter`: nil for edge-only, which has no
    /// cloud half; for cloud-only a partition with an empty edge side whose
    /// boundary is the model inputs.
    public var partition: Partition?
    /// Indices into `graph.nodes` of the nodes run on the edge (Constant nodes excluded), ascending.
    public var edgeNodes: [Int]
    public var boundary: [BoundaryTensor]
    /// Edge compute, including the edge's per-run overhead when it runs anything.
    public var edgeMilliseconds: Double
    /// Boundary bytes ÷ bandwidth + RTT; 0 for edge-only.
    public var transferMilliseconds: Double
    /// Cloud compute, including the cloud's per-run overhead when it runs anything.
    public var cloudMilliseconds: Double

    public var boundaryBytes: Int { boundary.reduce(0) { $0 + $1.bytes } }
    public var totalMilliseconds: Double { edgeMilliseconds + transferMilliseconds + cloudMilliseconds }

    public var placement: Placement {
        guard let partition else { return .edgeOnly }
        return partition.edgeNodes.isEmpty ? .cloudOnly : .split
    }

    /// The candidate as JSON (see `Plan.json`).
    public func json(best: Bool) -> JSON {
        .object([
            ("label", .string(label)),
            ("placement", .string(placement.rawValue)),
            ("best", .bool(best)),
            ("edge_nodes", .int(edgeNodes.count)),
            ("cloud_nodes", .int(partition?.cloudNodes.count ?? 0)),
            ("boundary", .array(boundary.map { .object([("name", .string($0.name)), ("bytes", .int($0.bytes))]) })),
            ("boundary_bytes", .int(boundaryBytes)),
            ("edge_ms", .double(edgeMilliseconds)),
            ("transfer_ms", .double(transferMilliseconds)),
            ("cloud_ms", .double(cloudMilliseconds)),
            ("total_ms", .double(totalMilliseconds)),
        ])
    }
}

/// The outcome of `Planner.plan`: a readable set of candidate cuts (edge-only,
/// cloud-only, the best cut after each node of the main path — the best of
/// each of `maxCandidates` stretches of the path —, the best cut at each
/// bottleneck, and the optimum over all partitions), ordered from all-cloud
/// to all-edge, with the per-node predictions behind them.
public struct Plan: Sendable {
    /// Predicted time of one node on each device.
    public struct NodePrediction: Sendable {
        public var name: String
        public var op: String
        /// nil for ops cleave does not run.
        public var kind: OpKind?
        public var edgeMilliseconds: Double
        public var cloudMilliseconds: Double
    }

    /// Fixed terms of a candidate's total.
    struct Context {
        var edgeRunOverhead: Double
        var cloudRunOverhead: Double
        var link: Link
    }

    public var candidates: [PlanCandidate]
    /// Index of the optimum in `candidates`.
    public var bestIndex: Int
    public var nodes: [NodePrediction]
    public var link: Link
    public var codec: BoundaryCodec
    public var edgeProfile: DeviceProfile
    public var cloudProfile: DeviceProfile
    /// The whole model on each device (every node, Constant nodes included, plus one run overhead).
    public var edgeTotalMilliseconds: Double
    public var cloudTotalMilliseconds: Double

    /// The optimum: the lowest predicted total over every valid partition.
    public var best: PlanCandidate { candidates[bestIndex] }

    /// The plan as JSON:
    /// `{"link": {"bits_per_second", "rtt_ms"}, "codec", "edge": {"name", "threads", "slowdown", "total_ms"},
    /// "cloud": {…}, "best": candidate, "candidates": [candidate], "nodes": [{"name", "op", "kind", "edge_ms", "cloud_ms"}]}`
    /// where a candidate is `{"label", "placement", "best", "edge_nodes", "cloud_nodes",
    /// "boundary": [{"name", "bytes"}], "boundary_bytes", "edge_ms", "transfer_ms", "cloud_ms", "total_ms"}`.
    public var json: JSON {
        func device(_ profile: DeviceProfile, _ total: Double) -> JSON {
            .object([("name", .string(profile.name)), ("threads", .int(profile.threads)),
                     ("slowdown", .double(profile.slowdown)), ("total_ms", .double(total))])
        }
        return .object([
            ("link", link.json),
            ("codec", .string(codec.rawValue)),
            ("edge", device(edgeProfile, edgeTotalMilliseconds)),
            ("cloud", device(cloudProfile, cloudTotalMilliseconds)),
            ("best", best.json(best: true)),
            ("candidates", .array(candidates.indices.map { candidates[$0].json(best: $0 == bestIndex) })),
            ("nodes", .array(nodes.map { node in
                .object([("name", .string(node.name)), ("op", .string(node.op)),
                         ("kind", node.kind.map { .string($0.rawValue) } ?? .null),
                         ("edge_ms", .double(node.edgeMilliseconds)), ("cloud_ms", .double(node.cloudMilliseconds))])
            })),
        ])
    }

    /// The candidates as a text table, the optimum marked with `*`.
    public func table() -> String {
        let header = ["", "candidate", "boundary", "bytes", "edge ms", "transfer ms", "cloud ms", "total ms"]
        let rows = candidates.indices.map { i -> [String] in
            let c = candidates[i]
            let names = c.boundary.map(\.name)
            let shown = names.count > 2 ? names.prefix(2).joined(separator: ", ") + " +\(names.count - 2)" : names.joined(separator: ", ")
            return [i == bestIndex ? "*" : "", c.label, shown.isEmpty ? "-" : shown, c.placement == .edgeOnly ? "-" : byteString(c.boundaryBytes),
                    milliseconds(c.edgeMilliseconds), milliseconds(c.transferMilliseconds),
                    milliseconds(c.cloudMilliseconds), milliseconds(c.totalMilliseconds)]
        }
        return textTable(header, rows, rightAligned: [3, 4, 5, 6, 7])
    }
}

// MARK: - Formatting

/// Milliseconds with three significant digits or at least two decimals.
func milliseconds(_ value: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    if value >= 100 { return String(Int(value.rounded())) }
    let digits = value >= 10 ? 1 : value >= 0.1 ? 2 : 3
    return decimal(value, digits)
}

/// `value` with exactly `digits` decimals.
func decimal(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((abs(value) * scale).rounded())
    let whole = scaled / Int(scale), fraction = scaled % Int(scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(whole) }
    let text = String(fraction)
    return sign + String(whole) + "." + String(repeating: "0", count: digits - text.count) + text
}

/// Bytes as "12.3 MB" (decimal units).
func byteString(_ n: Int) -> String {
    let value = Double(n)
    if value >= 1e9 { return decimal(value / 1e9, 2) + " GB" }
    if value >= 1e6 { return decimal(value / 1e6, 2) + " MB" }
    if value >= 1e3 { return decimal(value / 1e3, 1) + " KB" }
    return "\(n) B"
}

/// Columns padded to their widest cell, two spaces apart.
func textTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = Swift.max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        var text = cells.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: Swift.max(0, widths[i] - cell.count))
            return rightAligned.contains(i) ? pad + cell : cell + pad
        }.joined(separator: "  ")
        while text.last == " " { text.removeLast() }
        return text
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}
