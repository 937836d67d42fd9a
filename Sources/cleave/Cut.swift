import ArgumentParser
import CleaveBundle
import CleaveCompress
import CleaveIR
import CleaveRuntime

struct Cut: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cut a model at given tensors into an edge bundle and a cloud bundle.",
        discussion: """
            The edge half computes the named tensors and everything they depend on; \
            the cloud half computes the rest. The boundary is every tensor the edge \
            produces (or receives as a model input) that the cloud reads — inside a \
            residual block that includes the skip connection. Weights go to the half \
            that uses them (to both if both do).

            Writes OUTDIR/edge and OUTDIR/cloud (format: schemas/BUNDLE.md) into a \
            temporary folder that is renamed into place when complete.

            Example: cleave cut fixtures/pytorch_style/model.onnx --at /relu/Relu_output_0 -o out
            """)

    @Argument(help: "The ONNX model to cut.")
    var model: String

    @Option(help: ArgumentHelp("Tensor names where the edge side ends, comma-separated.", valueName: "tensor,..."))
    var at: String

    @Option(name: .shortAndLong, help: "The folder to write edge/ and cloud/ into.")
    var output: String

    @OptionGroup var shapes: ShapeOptions

    @Option(name: .customLong("boundary-codec"),
            help: ArgumentHelp("none: boundary tensors cross as they are; int8: float32 ones cross as uint8 (QuantizeLinear on the edge, DequantizeLinear on the cloud; scale and zero point from --calibration data, else a synthetic input).",
                               valueName: "codec"))
    var boundaryCodec: String = "none"

    @OptionGroup var calibration: CalibrationOptions

    @Option(name: .customLong("sign-key"), help: "Sign both manifests with this Ed25519 private key (from `cleave keygen`).")
    var signKey: String?

    @Flag(help: "Replace OUTDIR if it exists.")
    var force = false

    @Flag(help: "Print the manifests' key facts as JSON.")
    var json = false

    func validate() throws {
        guard let codec = BoundaryCodec(rawValue: boundaryCodec), codec != .int8Zlib else {
            throw ValidationError("--boundary-codec must be none or int8, got '\(boundaryCodec)' (int8+zlib is a wire codec: see `cleave run --remote`)")
        }
    }

    /// A cut's boundary is quantised in the graph or not at all: deflating is for the wire.
    var codec: BoundaryCodec { BoundaryCodec(rawValue: boundaryCodec) ?? .none }

    func run() throws {
        let key = try signKey.map { try SigningKeys.privateKey(at: $0) }
        let inputShapes = try shapes.parsed()
        var graph = try ONNXImporter.load(path: model)
        var analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        let tensors = at.split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
        var partition = try Partition(graph: graph, cutAt: tensors)
        var quantized: Set<String> = []
        if codec == .int8 {
            let sets = try Calibration.inputSets(try calibration.arrays(), for: graph, inputShapes: inputShapes)
            (graph, partition, quantized) = try BoundaryQuantizer.quantizeBoundary(of: partition, in: graph, calibration: sets, inputShapes: inputShapes)
            analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        }
        let request = BundleRequest(graph: graph, types: analysis.types, partition: partition, sourcePath: model,
                                    quantizedBoundary: quantized)
        let (edge, cloud) = try BundleWriter.write(request, to: output, force: force, signingKey: key)
        report(edge: edge, cloud: cloud, partition: partition, analysis: analysis, json: json, output: output)
    }
}

/// Prints what a cut wrote (shared by `cut` and `split`).
func report(edge: Manifest, cloud: Manifest?, partition: Partition, analysis: Analysis, json: Bool, output: String) {
    let boundaryBytes = edge.boundary.reduce(0) { $0 + $1.tensor.type.byteCount }
    if json {
        func side(_ m: Manifest, _ path: String) -> JSON {
            .object([("path", .string(path)), ("pair_id", .string(m.pairID)),
                     ("nodes", .int(m.role == .edge ? partition.edgeNodes.count : partition.cloudNodes.count)),
                     ("files", .array(m.files.map { .object([("path", .string($0.path)), ("size", .int($0.size)), ("sha256", .string($0.sha256))]) }))])
        }
        print(JSON.object([
            ("edge", side(edge, output + "/edge")),
            ("cloud", cloud.map { side($0, output + "/cloud") } ?? .null),
            ("boundary", .array(edge.boundary.map { .object([("name", .string($0.tensor.name)), ("dtype", .string($0.tensor.dtype.name)),
                                                             ("shape", .array($0.tensor.shape.dims.map { .int($0) })), ("codec", .string($0.codec))]) })),
            ("boundary_bytes", .int(boundaryBytes)),
        ]).serialized(pretty: true))
        return
    }
    let edgeMACs = partition.edgeNodes.reduce(0) { $0 + analysis.costs[$1].macs }
    let cloudMACs = partition.cloudNodes.reduce(0) { $0 + analysis.costs[$1].macs }
    print("edge:  \(output)/edge   \(partition.edgeNodes.count) nodes, \(humanCount(edgeMACs)) MACs, weights \(humanBytes(edge.files.first { $0.path == "weights.bin" }?.size ?? 0))")
    if let cloud {
        print("cloud: \(output)/cloud  \(partition.cloudNodes.count) nodes, \(humanCount(cloudMACs)) MACs, weights \(humanBytes(cloud.files.first { $0.path == "weights.bin" }?.size ?? 0))")
    } else {
        print("cloud: none — the whole model runs on the edge")
    }
    print("boundary (\(humanBytes(boundaryBytes)) per inference):")
    for tensor in edge.boundary { print("  \(tensor.tensor.name): \(tensor.tensor.type)") }
    print("pair \(edge.pairID)")
}
