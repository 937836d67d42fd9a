import ArgumentParser
import CleaveBundle
import CleaveCompress
import CleaveIR
import CleavePlan
import CleaveRuntime

struct Split: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job: compress a model, plan the best edge/cloud cut for a link, and write both bundles.",
        discussion: """
            Steps: compress (fold BatchNormalization; low-rank decomposition, which creates \
            narrow bottleneck layers; optional pruning and weight quantisation) → predict every \
            node's latency on the edge and the cloud device → find the cut that minimises \
            edge + transfer + cloud time over all valid partitions → cut → write and verify \
            OUTDIR/edge and OUTDIR/cloud. Each manifest records the plan and the compression \
            with its measured fidelity.

            With --calibration and no fixed strength, split searches the compression jointly \
            with the cut: every rung of a ladder (rank energy 0.999 … 0.9, rank ratio 0.5 … 0.1, \
            pruning 0.25 and 0.5) is applied, its fidelity measured on calibration samples held \
            back from the fit, the model planned, and the fastest predicted plan inside the \
            budget wins — --max-accuracy-drop P points of top-1 agreement (default 1) and/or \
            --max-relative-l2 E. A model no compression fits is split uncompressed, and the \
            output says so. --rank-energy, --rank-ratio or --prune-ratio fix the strength instead.

            Defaults work on a fresh machine: built-in device profiles (see the README for the \
            hardware they were measured on), a 10 Mbps link with 20 ms RTT; without \
            --calibration, data-free decomposition at --rank-energy 0.98 (fidelity measured on \
            a synthetic input).

            With --adaptive, split plans for a whole --bandwidth-range and writes every \
            cut worth having into one pair of bundles (format 2), for `cleave run EDGE \
            --remote URL --adaptive` to choose from per request (schemas/ADAPTIVE.md).

            Example:
              cleave split fixtures/digits/model.onnx -o out \\
                --calibration image=fixtures/digits/calibration.npy --bandwidth 5Mbps --max-accuracy-drop 1
            """)

    @Argument(help: "The ONNX model to split.")
    var model: String

    @Option(name: .shortAndLong, help: "The folder to write edge/ and cloud/ into.")
    var output: String

    @OptionGroup var shapes: ShapeOptions
    @OptionGroup var compression: CompressionArguments
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var planning: PlanOptions
    @OptionGroup var threading: ThreadOptions
    @OptionGroup var adaptive: AdaptiveOptions

    @Option(help: ArgumentHelp("Also write the plan's stacked-bar chart (SVG; with --adaptive, predicted total vs bandwidth per cut).", valueName: "file"))
    var chart: String?

    @Option(name: .customLong("frontier-chart"),
            help: ArgumentHelp("Also write the compression search's frontier, predicted total ms against fidelity lost (SVG).", valueName: "file"))
    var frontierChart: String?

    @Flag(name: .customLong("no-compress"), help: "Plan and cut the model as it is (Neurosurgeon-style).")
    var noCompress = false

    @Option(name: .customLong("sign-key"), help: "Sign both manifests with this Ed25519 private key (from `cleave keygen`).")
    var signKey: String?

    @Flag(help: "Replace OUTDIR if it exists.")
    var force = false

    @Flag(help: "Print a JSON report (compression, plan, bundles) instead of text.")
    var json = false

    func validate() throws {
        if frontierChart != nil && adaptive.adaptive {
            throw ValidationError("--frontier-chart draws a single-link search; with --adaptive use --chart (total vs bandwidth per cut)")
        }
        if frontierChart != nil && (calibration.entries.isEmpty || compression.explicitStrength || noCompress) {
            throw ValidationError("--frontier-chart draws the compression search, which needs --calibration and no --rank-energy, --rank-ratio, --prune-ratio or --no-compress")
        }
    }

    func run() throws {
        let key = try signKey.map { try SigningKeys.privateKey(at: $0) }
        let inputShapes = try shapes.parsed()
        let original = try ONNXImporter.load(path: model)
        let arrays = try calibration.arrays()
        let sets = try Calibration.inputSets(arrays, for: original, inputShapes: inputShapes)

        // 1. Compress: with calibration data, the fastest plan inside the fidelity budget.
        var graph = original
        var compressionReport: CompressionReport?
        var search: (result: CompressionSearch.Result, budget: FidelityBudget)?
        if !noCompress {
            if compression.budget != nil && arrays.isEmpty {
                throw CleaveError(.usage, "--max-accuracy-drop/--max-relative-l2 need --calibration samples to measure fidelity on")
            }
            var options = try compression.options(arrays: arrays, graph: original, inputShapes: inputShapes, threads: threading.threads)
            if !arrays.isEmpty && !compression.explicitStrength {
                let budget = compression.budget ?? FidelityBudget(maxAccuracyDrop: FidelityBudget.defaultAccuracyDrop)
                let result = try CompressionSearch.search(original, base: options, budget: budget, inputShapes: inputShapes,
                                                          score: { compressed, _ in
                    let analysis = try Analysis(graph: compressed, inputShapes: inputShapes)
                    return try planning.plan(graph: compressed, analysis: analysis, calibration: arrays).best.totalMilliseconds
                }, progress: progressLine)
                if budget.maxAccuracyDrop != nil && result.points[0].report.model.top1Agreement == nil {
                    let advice = "the model's first output is not a score vector, so top-1 agreement cannot be measured; give --max-relative-l2"
                    if compression.maxAccuracyDrop != nil { throw CleaveError(.usage, "--max-accuracy-drop: \(advice)") }
                    printError("note: \(advice) to allow compression; splitting uncompressed")
                }
                (graph, compressionReport, search) = (result.graph, result.report, (result, budget))
            } else {
                if options.rankEnergy == nil && options.rankRatio == nil { options.rankEnergy = Split.defaultRankEnergy }
                (graph, compressionReport) = try Compressor.compress(original, options: options, inputShapes: inputShapes)
            }
        }
        let searchJSON = search.map { $0.result.json(budget: $0.budget, scoreName: "predicted_total_ms") }
        if adaptive.adaptive {
            return try writeAdaptive(graph: graph, inputShapes: inputShapes, arrays: arrays,
                                     compression: compressionReport, search: searchJSON)
        }

        // 2. Plan.
        var analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        let plan = try planning.plan(graph: graph, analysis: analysis, calibration: arrays)
        let best = plan.best

        // 3. Cut (with the int8 codec, through QuantizeLinear/DequantizeLinear).
        var partition = try Partition(graph: graph, edge: Set(best.edgeNodes))
        var quantized: Set<String> = []
        if planning.codec != .none {
            (graph, partition, quantized) = try BoundaryQuantizer.quantizeBoundary(
                of: partition, in: graph, calibration: sets, inputShapes: inputShapes)
            analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        }

        // 4. Write and verify.
        var record: [(String, JSON)] = [("chosen", best.json(best: true)), ("plan", plan.json)]
        if let compressionReport { record.insert(("compression", compressionReport.json), at: 0) }
        if let searchJSON { record.insert(("search", searchJSON), at: 0) }
        let request = BundleRequest(graph: graph, types: analysis.types, partition: partition, sourcePath: model,
                                    plan: .object(record), quantizedBoundary: quantized)
        let (edge, cloud) = try BundleWriter.write(request, to: output, force: force, signingKey: key)
        try Split.verifyWritten(output, cloud: cloud != nil)

        if json {
            print(JSON.object([
                ("search", searchJSON ?? .null),
                ("compression", compressionReport?.json ?? .null),
                ("plan", plan.json),
                ("bundles", .object([("edge", .string(output + "/edge")), ("cloud", cloud == nil ? .null : .string(output + "/cloud")),
                                     ("pair_id", .string(edge.pairID))])),
            ]).serialized(pretty: true))
        } else {
            if let search {
                print(search.result.frontierTable(scoreName: "predicted ms", format: { fixed($0, 2) }))
                let chosen = search.result.points[search.result.chosen]
                print(search.result.chosen == 0
                      ? "no compression fits the budget (\(search.budget.summary)): splitting the model uncompressed"
                      : "chosen: \(chosen.label), the fastest plan within \(search.budget.summary)")
                print("")
            }
            if let compressionReport { print(compressionReport.table); print("") }
            print(plan.table())
            print("")
            report(edge: edge, cloud: cloud, partition: partition, analysis: analysis, json: false, output: output)
            print(cloud == nil ? "verified: the edge bundle is intact" : "verified: both bundles are intact and form a pair")
        }
        if let chart { try writeText(plan.svgChart(), to: chart) }
        if let frontierChart, let search {
            try writeText(search.result.chart(budget: search.budget, title: "Compression frontier: \(model)").svg(), to: frontierChart)
        }
    }

    /// `split --adaptive`: one pair of bundles holding every cut of the adaptive plan.
    func writeAdaptive(graph: Graph, inputShapes: [String: Shape], arrays: [String: Tensor],
                       compression: CompressionReport?, search: JSON?) throws {
        let key = try signKey.map { try SigningKeys.privateKey(at: $0) }
        let analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        let plan = try adaptive.plan(graph: graph, analysis: analysis, planning: planning, calibration: arrays)
        let everyNode = Set(graph.nodes.indices)
        let cuts = try plan.cuts.map { cut in
            BundleCut(id: cut.id, partition: try cut.candidate.partition ?? Partition(graph: graph, edge: everyNode), plan: plan.cutJSON(cut))
        }
        var record: [(String, JSON)] = [("adaptive", plan.json)]
        if let compression { record.insert(("compression", compression.json), at: 0) }
        if let search { record.insert(("search", search), at: 0) }
        let request = try BundleRequest(graph: graph, types: analysis.types, cuts: cuts, defaultCut: plan.defaultCut.id,
                                        sourcePath: model, plan: .object(record))
        let (edge, _) = try BundleWriter.write(request, to: output, force: force, signingKey: key)
        try Split.verifyWritten(output, cloud: true)

        if json {
            print(JSON.object([
                ("search", search ?? .null),
                ("compression", compression?.json ?? .null),
                ("adaptive", plan.json),
                ("bundles", .object([("edge", .string(output + "/edge")), ("cloud", .string(output + "/cloud")),
                                     ("pair_id", .string(edge.pairID))])),
            ]).serialized(pretty: true))
        } else {
            if let compression { print(compression.table); print("") }
            print(adaptiveSummary(plan))
            print("")
            print(plan.table())
            print("")
            print("wrote \(output)/edge and \(output)/cloud: \(plan.cuts.count) cuts in one pair (pair \(edge.pairID.prefix(12)))")
            print("verified: both bundles are intact and form a pair at every cut")
        }
        if let chart { try writeText(plan.svgChart(title: "Predicted latency vs bandwidth: \(model)"), to: chart) }
    }

    /// Verifies what was just written: the edge bundle, and the cloud one and the pair when there is one.
    static func verifyWritten(_ output: String, cloud: Bool) throws {
        let edgeReport = BundleVerifier.verify(output + "/edge")
        var problems = edgeReport.problems
        if cloud {
            let cloudReport = BundleVerifier.verify(output + "/cloud")
            problems += cloudReport.problems
            if let a = edgeReport.manifest, let b = cloudReport.manifest { problems += BundleVerifier.checkPair(a, b) }
        }
        guard problems.isEmpty else { throw CleaveError(.checkFailed, "the written bundles do not verify: " + problems.joined(separator: "; ")) }
    }

    /// Decomposition strength when no --rank-energy/--rank-ratio is given.
    static let defaultRankEnergy = 0.98
}
