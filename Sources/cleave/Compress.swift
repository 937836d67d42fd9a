import ArgumentParser
import CleaveCompress
import CleaveIR
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
            and the relative L2 of the outputs — on the calibration data, or on one \
            synthetic input when there is none.

            Example:
              cleave compress fixtures/digits/model.onnx -o digits_small.onnx \\
                --rank-ratio 0.25 --layers 'conv2|conv3|fc1' \\
                --calibration image=fixtures/digits/calibration.npy
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
        let sets = try Calibration.inputSets(try calibration.arrays(), for: graph, inputShapes: inputShapes)
        let options = compression.options(calibration: sets, threads: threading.threads)
        let (compressed, report) = try Compressor.compress(graph, options: options, inputShapes: inputShapes)
        try ONNXExporter.write(compressed, to: output)
        if json {
            let document = JSON.object([("input", .string(model)), ("output", .string(output))] + (report.json.objectValue ?? []))
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

    func validate() throws {
        do {
            try options(calibration: [], threads: nil).validate()
        } catch let error as CleaveError {
            throw ValidationError(error.message)
        }
    }

    func options(calibration sets: [[String: Tensor]], threads: Int?) -> CompressionOptions {
        CompressionOptions(rankEnergy: rankEnergy, rankRatio: rankRatio, layers: layers, calibration: sets,
                           pruneRatio: pruneRatio, weights: weights, foldBatchNorm: !keepBatchNorm, threads: threads)
    }
}

extension WeightStorage: ExpressibleByArgument {}
