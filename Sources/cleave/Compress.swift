import ArgumentParser
import CleaveCompress
import CleaveIR
import CleavePlan
import CleaveRuntime

struct Compress: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compress a model: fold BatchNormalization, prune channels, decompose layers into bottlenecks, shrink weights.",
        discussion: """
            Passes run in this order: BatchNormalization is folded into the Conv, \
            ConvTranspose or Gemm before it (always, unless --no-fold-batch-norm); \
            --prune-ratio removes the Conv filters with the smallest L1 norm and slices \
            everything that reads those channels; --rank-energy or --rank-ratio replaces \
            each Conv/Gemm/MatMul K→N by K→r then r→N, where the r-wide tensor \
            <node>/lowrank_a_output_0 is a new, narrow cut point (listed in the model's \
            "cleave.bottlenecks" metadata); --weights stores weights as float16 or int8.

            Without --calibration, decomposition is a truncated SVD of the weights. With \
            it, it keeps the principal directions of each layer's responses on the data \
            (far more accurate at the same rank), and pruned layers are refit by least \
            squares. A layer is never decomposed at a rank that would not reduce its MACs.

            Every run reports the fidelity it costs: per changed layer the rank or kept \
            channels, MACs and output elements before and after, and the relative error of \
            its output; for the model, MACs and parameters before and after, top-1 agreement \
            and the relative L2 of the outputs — on the calibration samples held back from \
            the fit (every fourth one: the fit never sees them), or on one synthetic input \
            when there is no calibration data.

            --max-accuracy-drop P (points of top-1 agreement with the original) and/or \
            --max-relative-l2 E search the strength instead of taking one: every rung of a \
            ladder (rank energy 0.999 … 0.9, rank ratio 0.5 … 0.1, pruning 0.25 and 0.5) is \
            applied and measured on the held-back samples, and the smallest model (fewest \
            MACs) inside the budget is written; the report lists every rung tried.

            Examples:
              cleave compress fixtures/digits/model.onnx -o digits_small.onnx \\
                --rank-ratio 0.25 --layers 'conv2|conv3|fc1' \\
                --calibration image=fixtures/digits/calibration.npy
              cleave compress fixtures/digits/model.onnx -o digits_small.onnx \\
                --max-accuracy-drop 1 --calibration image=fixtures/digits/calibration.npy
            """)

    @Argument(help: "The ONNX model to compress.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the compressed ONNX model.")
    var output: String

    @OptionGroup var compression: CompressionArguments

    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var shapes: ShapeOptions

    @OptionGroup var threading: ThreadOptions

    @Flag(help: "Print the report as JSON (layers, model totals and fidelity, bottlenecks, skipped layers).")
    var json = false

    func run() throws {
        let graph = try ONNXImporter.load(path: model)
        let inputShapes = try shapes.parsed()
        let arrays = try calibration.arrays()
        let options = try compression.options(arrays: arrays, graph: graph, inputShapes: inputShapes, threads: threading.threads)
        var compressed: Graph, report: CompressionReport
        var search: JSON?
        if let budget = compression.budget {
            guard !arrays.isEmpty else {
                throw CleaveError(.usage, "--max-accuracy-drop/--max-relative-l2 need --calibration samples to measure fidelity on")
            }
            let result = try CompressionSearch.search(graph, base: options, budget: budget, inputShapes: inputShapes,
                                                      score: { _, report in Double(report.model.macsAfter) },
                                                      progress: progressLine)
            (compressed, report) = (result.graph, result.report)
            search = result.json(budget: budget, scoreName: "macs")
            if !json { print(result.frontierTable(scoreName: "MACs (score)", format: { humanCount(Int($0)) })); print("") }
        } else {
            (compressed, report) = try Compressor.compress(graph, options: options, inputShapes: inputShapes)
        }
        try ONNXExporter.write(compressed, to: output)
        if json {
            let document = JSON.object([("input", .string(model)), ("output", .string(output))] + (report.json.objectValue ?? [])
                                       + (search.map { [("search", $0)] } ?? []))
            print(document.serialized(pretty: true))
        } else {
            print(report.table)
            print("wrote \(output)")
        }
    }

}

/// The compression options shared by `compress` and `split`.
struct CompressionArguments: ParsableArguments {
    @Option(name: .customLong("rank-energy"), help: ArgumentHelp("Decompose keeping this fraction of the singular-value (or response) energy, in (0, 1].", valueName: "E"))
    var rankEnergy: Double?

    @Option(name: .customLong("rank-ratio"), help: ArgumentHelp("Decompose at rank r = ⌈R·min(N, K)⌉ for a layer K→N, R in (0, 1].", valueName: "R"))
    var rankRatio: Double?

    @Option(help: ArgumentHelp("Only change nodes whose name matches this regular expression (unnamed nodes: their first output).", valueName: "regex"))
    var layers: String?

    @Option(name: .customLong("prune-ratio"), help: ArgumentHelp("Remove this fraction of each prunable Conv's output channels, in [0, 1).", valueName: "P"))
    var pruneRatio: Double?

    @Option(help: "Weight storage: fp32 (as is), fp16 (half the bytes) or int8 (a quarter, per output channel).")
    var weights: WeightStorage = .fp32

    @Flag(name: .customLong("no-fold-batch-norm"), help: "Keep BatchNormalization nodes instead of folding them.")
    var keepBatchNorm = false

    @Option(name: .customLong("max-accuracy-drop"),
            help: ArgumentHelp("Search the compression strength: the most points (0-100) of top-1 agreement with the original that may be lost on held-back calibration samples.", valueName: "P"))
    var maxAccuracyDrop: Double?

    @Option(name: .customLong("max-relative-l2"),
            help: ArgumentHelp("Search the compression strength: the largest relative L2 of the outputs allowed on held-back calibration samples.", valueName: "E"))
    var maxRelativeL2: Double?

    func validate() throws {
        do {
            try options(calibration: [], threads: nil).validate()
            try FidelityBudget(maxAccuracyDrop: maxAccuracyDrop, maxRelativeL2: maxRelativeL2).validate()
        } catch let error as CleaveError {
            throw ValidationError(error.message)
        }
        if budget != nil && explicitStrength {
            throw ValidationError("--max-accuracy-drop/--max-relative-l2 search the strength themselves; drop --rank-energy, --rank-ratio and --prune-ratio")
        }
    }

    /// Whether the user fixed the compression strength.
    var explicitStrength: Bool { rankEnergy != nil || rankRatio != nil || pruneRatio != nil }

    /// The budget the user gave, if any.
    var budget: FidelityBudget? {
        maxAccuracyDrop == nil && maxRelativeL2 == nil ? nil : FidelityBudget(maxAccuracyDrop: maxAccuracyDrop, maxRelativeL2: maxRelativeL2)
    }

    func options(calibration sets: [[String: Tensor]], threads: Int?) -> CompressionOptions {
        CompressionOptions(rankEnergy: rankEnergy, rankRatio: rankRatio, layers: layers, calibration: sets,
                           pruneRatio: pruneRatio, weights: weights, foldBatchNorm: !keepBatchNorm, threads: threads)
    }

    /// The options with the calibration arrays split into samples to fit on
    /// and samples held back to measure fidelity on.
    func options(arrays: [String: Tensor], graph: Graph, inputShapes: [String: Shape], threads: Int?) throws -> CompressionOptions {
        let (fit, heldOut) = try Calibration.fitAndHeldOutSets(arrays, for: graph, inputShapes: inputShapes)
        var result = options(calibration: fit, threads: threads)
        result.heldOut = heldOut
        return result
    }
}

extension CompressionSearch.Result {
    /// The frontier: every compression tried, its fidelity and score, the chosen one marked.
    func frontierTable(scoreName: String, format: (Double) -> String) -> String {
        let rows = points.enumerated().map { i, p -> [String] in
            let m = p.report.model
            return [(i == chosen ? "* " : "  ") + p.label, humanCount(m.macsAfter),
                    m.top1Agreement.map { fixed($0 * 100, 2) + "%" } ?? "n/a",
                    m.relativeL2.map { fixed($0 * 100, 3) + "%" } ?? "n/a", format(p.score), p.withinBudget ? "yes" : "no"]
        }
        let failures = failed.map { "\n  \($0.label): not applied: \($0.reason)" }.joined()
        return table(["compression", "MACs", "top-1 agreement", "relative L2", scoreName, "in budget"], rows,
                     rightAligned: [1, 2, 3, 4]) + failures
    }

    /// The frontier as a chart: points of top-1 agreement lost when the
    /// budget bounds them (or the model has a top-1), else relative L2 in %.
    func chart(budget: FidelityBudget, title: String) -> FrontierChart {
        let byTop1 = budget.maxAccuracyDrop != nil || points.allSatisfy { $0.report.model.top1Agreement != nil }
        let chartPoints = points.enumerated().map { i, p in
            let m = p.report.model
            let loss = byTop1 ? (1 - (m.top1Agreement ?? .nan)) * 100 : (m.relativeL2 ?? .nan) * 100
            return FrontierChart.Point(label: p.label, loss: loss, totalMilliseconds: p.score,
                                       withinBudget: p.withinBudget, chosen: i == chosen)
        }
        return FrontierChart(points: chartPoints,
                             lossName: byTop1 ? "top-1 agreement lost (points, held-back samples)" : "relative L2 of the outputs (%)",
                             budget: byTop1 ? budget.maxAccuracyDrop : budget.maxRelativeL2.map { $0 * 100 }, title: title)
    }

    /// `{"budget", "score", "chosen", "frontier": [{"label", "macs", "top1_agreement", "relative_l2", "samples", "score", "within_budget", "chosen"}], "failed": [{"label", "reason"}]}`
    func json(budget: FidelityBudget, scoreName: String) -> JSON {
        .object([
            ("budget", budget.json), ("score", .string(scoreName)), ("chosen", .string(points[chosen].label)),
            ("frontier", .array(points.enumerated().map { i, p in
                let m = p.report.model
                return .object([("label", .string(p.label)), ("macs", .int(m.macsAfter)),
                                ("top1_agreement", m.top1Agreement.map(JSON.double) ?? .null),
                                ("relative_l2", m.relativeL2.map(JSON.double) ?? .null),
                                ("samples", .int(m.samples)), ("score", .double(p.score)),
                                ("within_budget", .bool(p.withinBudget)), ("chosen", .bool(i == chosen))])
            })),
            ("failed", .array(failed.map { .object([("label", .string($0.label)), ("reason", .string($0.reason))]) })),
        ])
    }
}

extension WeightStorage: ExpressibleByArgument {}
