import CleaveIR
import COpenBLAS

/// Makes a model cheaper and creates narrow layers to cut at, and reports
/// the fidelity that costs.
public enum Compressor {
    /// The model metadata key that lists the bottleneck tensors low-rank
    /// decomposition created, comma-separated (appended to on re-compression).
    /// Planners offer these tensors as cut points.
    public static let bottleneckMetadataKey = "cleave.bottlenecks"

    /// Compresses `graph`. Passes, in order: fold BatchNormalization
    /// (`foldBatchNorm`), prune channels (`pruneRatio`), decompose
    /// (`rankEnergy` or `rankRatio`), store weights (`weights`). Then both
    /// models run on the calibration inputs (or one synthetic input) to
    /// measure each changed layer's output error and the outputs' top-1
    /// agreement and relative L2.
    ///
    /// - Parameter inputShapes: as for `Analysis` (`--input-shape`).
    /// - Returns: the compressed graph (validated; standard ONNX) and the report.
    /// - Throws: `CleaveError.usage` for invalid options; `CleaveError.badInput`
    ///   when the model cannot be analysed or run, or calibration data does not fit it.
    public static func compress(_ graph: Graph, options: CompressionOptions,
                                inputShapes: [String: Shape] = [:]) throws -> (graph: Graph, report: CompressionReport) {
        try options.validate()
        let selection = try LayerSelection(pattern: options.layers)
        if let threads = options.threads { openblas_set_num_threads(Int32(threads)) }
        let original = try Analysis(graph: graph, inputShapes: inputShapes)
        var editor = GraphEditor(graph)
        var reports: [LayerReport] = []
        var skipped: [SkippedLayer] = []
        var bottlenecks: [String] = []

        if options.foldBatchNorm {
            reports += try BatchNormFolding.apply(&editor, analysis: original)
            editor.graph = try editor.finish()
        }
        if let ratio = options.pruneRatio, ratio > 0 {
            let analysis = try Analysis(graph: editor.graph, inputShapes: inputShapes)
            editor.include(analysis)
            let result = try ChannelPruning.apply(&editor, ratio: ratio, selection: selection, calibration: options.calibration,
                                                  analysis: analysis, inputShapes: inputShapes, threads: options.threads)
            reports += result.reports
            skipped += result.skipped
            editor.graph = try editor.finish()
        }
        if let rule = options.rankRule {
            let analysis = try Analysis(graph: editor.graph, inputShapes: inputShapes)
            editor.include(analysis)
            let result = try LowRankDecomposition.apply(&editor, rule: rule, selection: selection, calibration: options.calibration,
                                                        analysis: analysis, threads: options.threads)
            reports += result.reports
            skipped += result.skipped
            bottlenecks = result.bottlenecks
            editor.graph = try editor.finish()
        }
        _ = WeightQuantization.apply(&editor, storage: options.weights)
        if !bottlenecks.isEmpty { markBottlenecks(&editor.graph, bottlenecks) }
        let compressed = try editor.finish()

        // A layer pruned and then decomposed keeps fewer channels in its output: compare those.
        for i in reports.indices where reports[i].probeChannels == nil {
            reports[i].probeChannels = reports.first { $0.probe == reports[i].probe && $0.probeChannels != nil }?.probeChannels
        }
        let inputs = options.heldOut.isEmpty
            ? Activations.evaluationInputs(options.calibration, graph: graph, analysis: original) : options.heldOut
        let fidelity = try Fidelity.measure(original: graph, compressed: compressed, reports: reports, inputs: inputs,
                                            threads: options.threads)
        for i in reports.indices { reports[i].relativeError = fidelity.layerErrors[i] }
        let final = try Analysis(graph: compressed, inputShapes: inputShapes)
        let model = CompressionReport.Model(
            macsBefore: original.totals.macs, macsAfter: final.totals.macs,
            paramsBefore: original.totals.params, paramsAfter: final.totals.params,
            weightBytesBefore: weightBytes(graph), weightBytesAfter: weightBytes(compressed),
            top1Agreement: fidelity.top1Agreement, relativeL2: fidelity.relativeL2, samples: fidelity.samples,
            evaluatedOn: !options.heldOut.isEmpty ? "held_out" : options.calibration.isEmpty ? "synthetic" : "calibration")
        return (compressed, CompressionReport(layers: reports, model: model, bottlenecks: bottlenecks, skipped: skipped,
                                              weights: options.weights))
    }

    /// Bytes of every initializer and Constant-node value.
    static func weightBytes(_ graph: Graph) -> Int {
        graph.constants.values.reduce(0) { $0 + $1.byteCount }
    }

    /// Appends `names` to the model's `cleave.bottlenecks` entry.
    private static func markBottlenecks(_ graph: inout Graph, _ names: [String]) {
        var metadata = graph.model.metadata
        var existing: [String] = []
        if let index = metadata.firstIndex(where: { $0.key == bottleneckMetadataKey }) {
            existing = metadata[index].value.split(separator: ",").map(String.init)
            metadata.remove(at: index)
        }
        let defined = Set(graph.nodes.flatMap(\.outputs))
        let all = (existing + names).filter { defined.contains($0) }
        var seen = Set<String>()
        metadata.append((key: bottleneckMetadataKey, value: all.filter { seen.insert($0).inserted }.joined(separator: ",")))
        graph.model.metadata = metadata
    }
}

extension CompressionOptions {
    var rankRule: RankRule? {
        if let e = rankEnergy { return .energy(e) }
        if let r = rankRatio { return .ratio(r) }
        return nil
    }
}
