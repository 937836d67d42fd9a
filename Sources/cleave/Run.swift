import ArgumentParser
import CleaveIR
import CleaveRuntime

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on NumPy inputs and write its outputs as .npy files.",
        discussion: """
            Inputs are NumPy .npy files in C order (float32, float16, float64, int64, \
            int32, int8, uint8, bool). Each output is written to DIR/<output name>.npy, \
            with characters other than letters, digits, '.', '_' and '-' replaced by '_'.

            Example:
              cleave run fixtures/pytorch_style/model.onnx \\
                --input input=fixtures/pytorch_style/inputs/input.npy --output-dir out --repeat 10
            """)

    @Argument(help: "The ONNX model to run.")
    var model: String

    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=FILE.npy (repeatable).", valueName: "name=file"))
    var inputs: [String] = []

    @Option(name: .customLong("output-dir"), help: "Write each output to DIR/<name>.npy.")
    var outputDirectory: String?

    @OptionGroup var threading: ThreadOptions

    @Option(name: .customLong("repeat"), help: "Run this many times and report the median latency.")
    var repeats: Int = 1

    @Flag(help: "Print a JSON report (outputs, latencies, per-node timings) instead of text.")
    var json = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        for input in inputs where !input.contains("=") {
            throw ValidationError("--input '\(input)' must look like NAME=FILE.npy")
        }
    }

    func run() throws {
        let graph = try ONNXImporter.load(path: model)
        let session = try Session(graph: graph, options: SessionOptions(threads: threading.threads))
        var feeds: [String: Tensor] = [:]
        for input in inputs {
            guard let equals = input.lastIndex(of: "=") else { continue }
            let name = String(input[..<equals])
            feeds[name] = try Npy.read(path: String(input[input.index(after: equals)...]))
        }

        var latencies: [Double] = []
        var timings: [NodeTiming] = []
        var outputs: [String: Tensor] = [:]
        for _ in 0..<repeats {
            let start = Session.now()
            outputs = json ? try session.run(feeds, timings: &timings) : try session.run(feeds)
            latencies.append((Session.now() - start) * 1000)
        }
        let median = latencies.sorted()[latencies.count / 2]

        var written: [String: String] = [:]
        if let outputDirectory {
            try makeDirectory(outputDirectory)
            var used = Set<String>()
            for output in graph.outputs {
                guard let tensor = outputs[output.name] else { continue }
                var file = fileSafe(output.name)
                while !used.insert(file).inserted { file += "_" }
                let path = outputDirectory + "/" + file + ".npy"
                try Npy.write(tensor, to: path)
                written[output.name] = path
            }
        }

        if json {
            let report = JSON.object([
                ("model", .string(model)),
                ("threads", .int(session.options.threads)),
                ("outputs", .array(graph.outputs.compactMap { output in
                    outputs[output.name].map { tensor in
                        .object([("name", .string(output.name)), ("dtype", .string(tensor.dtype.name)),
                                 ("shape", .array(tensor.shape.dims.map { .int($0) })),
                                 ("file", written[output.name].map { .string($0) } ?? .null)])
                    }
                })),
                ("latency_ms", .object([("median", .double(median)), ("runs", .array(latencies.map { .double($0) }))])),
                ("nodes", .array(timings.map { .object([("name", .string($0.node)), ("op", .string($0.op)), ("ms", .double($0.milliseconds))]) })),
            ])
            print(report.serialized(pretty: true))
        } else {
            for output in graph.outputs {
                guard let tensor = outputs[output.name] else { continue }
                let destination = written[output.name].map { " → \($0)" } ?? ""
                print("\(output.name): \(tensor.dtype.name)\(tensor.shape)\(destination)")
            }
            let runs = repeats > 1 ? "median of \(repeats) runs" : "1 run"
            print("latency: \(fixed(median, 3)) ms (\(runs), \(session.options.threads) thread\(session.options.threads == 1 ? "" : "s"))")
        }
    }
}
