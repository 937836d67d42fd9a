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
            (the best --candidates of them), the best cut at each bottleneck layer that \
            `cleave compress` recorded, and the optimum, marked with *. --json adds the \
            predicted time of every node on each device.

            Example:
              cleave plan fixtures/pytorch_style/model.onnx --bandwidth 10Mbps --rtt 20ms --chart plan.svg
            """)

    @Argument(help: "The ONNX model to plan.")
    var model: String

    @OptionGroup var planning: PlanOptions

    @OptionGroup var shapes: ShapeOptions

    @OptionGroup var calibration: CalibrationOptions

    @Option(help: "How many cuts along the main path to list (the best ones).")
    var candidates: Int = 12

    @Option(help: ArgumentHelp("Write a stacked-bar chart (SVG) of edge, transfer and cloud time per candidate.", valueName: "file"))
    var chart: String?

    @Flag(help: "Print the plan as JSON (candidates and per-node predictions) instead of a table.")
    var json = false

    func validate() throws {
        guard planning.bandwidth != nil else { throw ValidationError("--bandwidth is required, e.g. --bandwidth 10Mbps") }
        guard candidates >= 0 else { throw ValidationError("--candidates must be at least 0") }
    }

    func run() throws {
        let (edge, cloud) = try planning.profiles()
        let link = try planning.link()
        let graph = try ONNXImporter.load(path: model)
        let analysis = try Analysis(graph: graph, inputShapes: try shapes.parsed())
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
}
