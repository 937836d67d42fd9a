import ArgumentParser
import CleaveIR
import CleavePlan

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Predict per-layer latency on an edge device and a cloud server and find the cut that minimises end-to-end latency.",
        discussion: """
            Predicted latency of a cut = edge compute + (boundary bytes after the codec ÷ \
            bandwidth + RTT) + cloud compute, from the device profiles (`cleave profile`; \
            built-in ones by default, see the README). The optimum is searched over every \
            valid partition of the graph — every set of nodes closed under predecessors, \
            with any number of tensors crossing — by a minimum s–t cut (as in DADS). \
            Edge-only (nothing crosses, no round trip) and cloud-only (the inputs cross) \
            are the two extremes.

            The table lists the extremes, the best cut after each node of the main path \
            (the best of each of --candidates stretches of it), the best cut at each bottleneck layer that \
            `cleave compress` recorded, and the optimum, marked with *. --json adds the \
            predicted time of every node on each device.

            With --adaptive, the plan covers --bandwidth-range instead of one link: every \
            cut that is the best somewhere in it, where each is best, and its predicted \
            stages at both ends of that interval (schemas/ADAPTIVE.md).

            Example:
              cleave plan fixtures/pytorch_style/model.onnx --bandwidth 10Mbps --rtt 20ms --chart plan.svg
              cleave plan model.onnx --adaptive --bandwidth-range 0.5Mbps-200Mbps --chart cuts.svg
            """)

    @Argument(help: "The ONNX model to plan.")
    var model: String

    @OptionGroup var planning: PlanOptions

    @OptionGroup var shapes: ShapeOptions

    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var adaptive: AdaptiveOptions

    @Option(help: "How many cuts along the main path to list (the best of each of that many stretches of it).")
    var candidates: Int = 12

    @Option(help: ArgumentHelp("Write a stacked-bar chart (SVG) of edge, transfer and cloud time per candidate (with --adaptive: predicted total vs bandwidth per cut).", valueName: "file"))
    var chart: String?

    @Flag(help: "Print the plan as JSON (candidates and per-node predictions) instead of a table.")
    var json = false

    func validate() throws {
        guard planning.bandwidth != nil || adaptive.adaptive else {
            throw ValidationError("--bandwidth is required, e.g. --bandwidth 10Mbps (or --adaptive for a range)")
        }
        guard candidates >= 0 else { throw ValidationError("--candidates must be at least 0") }
    }

    func run() throws {
        let (edge, cloud) = try planning.profiles()
        let link = try planning.link()
        let graph = try ONNXImporter.load(path: model)
        let analysis = try Analysis(graph: graph, inputShapes: try shapes.parsed())
        if adaptive.adaptive { return try runAdaptive(graph: graph, analysis: analysis) }
        let plan = try planning.plan(graph: graph, analysis: analysis, calibration: try calibration.arrays(), maxCandidates: candidates)
        if let chart { try writeText(plan.svgChart(), to: chart) }
        if json {
            guard case .object(let members) = plan.json else { return }
            print(JSON.object([("model", .string(model))] + members).serialized(pretty: true))
            return
        }
        func device(_ role: String, _ profile: DeviceProfile, _ total: Double) -> String {
            let slowdown = profile.slowdown == 1 ? "" : ", slowdown \(fixed(profile.slowdown, 1))"
            return "\(role): \(profile.name) (\(profile.threads) thread\(profile.threads == 1 ? "" : "s")\(slowdown)); whole model \(fixed(total, 3)) ms"
        }
        print("model: \(model)")
        print("link: \(link.description); codec \(planning.codec.rawValue)")
        print(device("edge", edge, plan.edgeTotalMilliseconds))
        print(device("cloud", cloud, plan.cloudTotalMilliseconds))
        print()
        print(plan.table())
        print()
        let best = plan.best
        print("best: \(best.label) — edge \(fixed(best.edgeMilliseconds, 3)) ms + transfer \(fixed(best.transferMilliseconds, 3)) ms + cloud \(fixed(best.cloudMilliseconds, 3)) ms = \(fixed(best.totalMilliseconds, 3)) ms")
        if let chart { print("chart: \(chart)") }
    }

    /// `plan --adaptive`: the cuts over the bandwidth range.
    func runAdaptive(graph: Graph, analysis: Analysis) throws {
        let plan = try adaptive.plan(graph: graph, analysis: analysis, planning: planning, calibration: try calibration.arrays())
        if let chart { try writeText(plan.svgChart(), to: chart) }
        if json {
            guard case .object(let members) = plan.json else { return }
            print(JSON.object([("model", .string(model))] + members).serialized(pretty: true))
            return
        }
        print("model: \(model)")
        print(adaptiveSummary(plan))
        print()
        print(plan.table())
        if let chart { print("chart: \(chart)") }
    }
}

/// The header lines of an adaptive plan (`plan --adaptive`, `split --adaptive`).
func adaptiveSummary(_ plan: AdaptivePlan) -> String {
    let range = "\(Link.describe(bitsPerSecond: plan.lowerBitsPerSecond)) to \(Link.describe(bitsPerSecond: plan.upperBitsPerSecond))"
    let optimal = plan.cuts.filter { $0.reason == .optimal }.count
    let loss = plan.worstLoss > 0.0005 ? "; dropping the others costs at most \(fixed(plan.worstLoss * 100, 1))% anywhere" : ""
    return """
        adaptive plan: \(range), RTT \(format3(plan.rttMilliseconds)) ms, codec \(plan.codec.rawValue)
        edge: \(plan.edgeProfile.name); cloud: \(plan.cloudProfile.name)
        \(plan.envelope.count) distinct optimum\(plan.envelope.count == 1 ? "" : "s") over the range; \(optimal) kept\(loss)
        * = the default cut (the best at \(plan.defaultLink.description) with a cloud half)
        """
}
