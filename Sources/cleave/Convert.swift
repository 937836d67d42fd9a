import ArgumentParser
import CleaveIR

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read an ONNX model, validate it, and write it back out.",
        discussion: """
            The round trip goes through cleave's graph: a model that converts is one \
            cleave can read. Weights are streamed from the memory-mapped input to the \
            output, never held twice. The output is written to a temporary file and \
            renamed into place, so a failed run leaves nothing behind.
            """)

    @Argument(help: "The ONNX model to read.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the converted model.")
    var output: String

    func run() throws {
        let graph = try ONNXImporter.load(path: model)
        try ONNXExporter.write(graph, to: output)
    }
}
