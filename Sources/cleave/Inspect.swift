import ArgumentParser
import CleaveIR

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's inputs, outputs and per-node shapes, MACs, parameters and output bytes.",
        discussion: """
            Shapes are inferred for every node, including the shape-computing \
            subgraphs that tf2onnx and PyTorch emit (Shape→Gather→Concat→Reshape), \
            which are evaluated. A leading symbolic batch dim defaults to 1; other \
            symbolic dims need --input-shape.

            MACs: Conv = N·Cout·Hout·Wout·(Cin/group)·kH·kW, Gemm/MatMul = M·N·K; \
            element-wise ops count one per output element; data movement counts 0.
            Params count the elements of the weights a node reads (initializers and \
            Constant-node tensors).

            Example: cleave inspect fixtures/paddle_style/model.onnx --input-shape x=1,3,224,224
            """)

    @Argument(help: "The ONNX model to inspect.")
    var model: String

    @OptionGroup var shapes: ShapeOptions

    @Flag(help: "Print JSON (documented in the README) instead of a table.")
    var json = false

    func run() throws {
        let graph = try ONNXImporter.load(path: model)
        let analysis = try Analysis(graph: graph, inputShapes: try shapes.parsed())
        let weightBytes = graph.constants.values.reduce(0) { $0 + $1.byteCount }

        func typeJSON(_ name: String) -> JSON {
            let type = analysis.types[name]
            return .object([("name", .string(name)), ("dtype", type.map { .string($0.dtype.name) } ?? .null),
                            ("shape", type.map { .array($0.shape.dims.map { .int($0) }) } ?? .null)])
        }
        func outputBytes(_ node: Node) -> Int {
            node.outputs.reduce(0) { $0 + (analysis.types[$1]?.byteCount ?? 0) }
        }

        if json {
            let report = JSON.object([
                ("model", .string(model)),
                ("ir_version", .int(graph.model.irVersion)),
                ("opset", .int(graph.opsetVersion)),
                ("producer", .string(graph.model.producerName)),
                ("inputs", .array(graph.runtimeInputs.map { typeJSON($0.name) })),
                ("outputs", .array(graph.outputs.map { typeJSON($0.name) })),
                ("nodes", .array(graph.nodes.enumerated().map { index, node in
                    let cost = analysis.costs[index]
                    return .object([
                        ("name", .string(node.name.isEmpty ? graph.label(index) : node.name)),
                        ("op", .string(node.opType)),
                        ("inputs", .array(node.inputs.map { .string($0) })),
                        ("outputs", .array(node.outputs.filter { !$0.isEmpty }.map(typeJSON))),
                        ("macs", .int(cost.macs)),
                        ("params", .int(cost.params)),
                        ("output_bytes", .int(outputBytes(node))),
                    ])
                })),
                ("totals", .object([
                    ("nodes", .int(graph.nodes.count)),
                    ("macs", .int(analysis.totals.macs)),
                    ("params", .int(analysis.totals.params)),
                    ("weight_bytes", .int(weightBytes)),
                ])),
            ])
            print(report.serialized(pretty: true))
            return
        }

        let producer = graph.model.producerName.isEmpty ? "" : ", from \(graph.model.producerName) \(graph.model.producerVersion)"
        print("\(model): ONNX IR \(graph.model.irVersion), opset \(graph.opsetVersion)\(producer)")
        for input in graph.runtimeInputs { print("  input  \(input.name): \(analysis.types[input.name]?.description ?? "?")") }
        for output in graph.outputs { print("  output \(output.name): \(analysis.types[output.name]?.description ?? "?")") }
        print("")
        var rows: [[String]] = []
        for (index, node) in graph.nodes.enumerated() {
            let cost = analysis.costs[index]
            let shapes = node.outputs.filter { !$0.isEmpty }.map { analysis.types[$0]?.shape.description ?? "?" }.joined(separator: " ")
            rows.append([String(index), node.name.isEmpty ? "-" : node.name, node.opType, shapes,
                         humanCount(cost.macs), humanCount(cost.params), humanBytes(outputBytes(node))])
        }
        rows.append(["", "total", "\(graph.nodes.count) nodes", "", humanCount(analysis.totals.macs),
                     humanCount(analysis.totals.params), "weights " + humanBytes(weightBytes)])
        print(table(["#", "node", "op", "output shape", "MACs", "params", "output"], rows, rightAligned: [0, 4, 5, 6]))
    }
}
