import ArgumentParser
import CleaveBundle
import CleaveIR
import CleaveServe

struct ExportTriton: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-triton",
        abstract: "Write a bundle as a model of a Triton Inference Server model repository.",
        discussion: """
            Verifies BUNDLE, then writes REPO/NAME/config.pbtxt (platform \
            onnxruntime_onnx, backend onnxruntime; every input and output with its \
            data type and dims; max_batch_size: 0, because bundle shapes are fixed \
            and include the batch dimension) and the model as Triton loads an ONNX \
            model with external weights: REPO/NAME/1/model.onnx/model.onnx beside \
            its weights.bin. NAME is the one `cleave serve` uses, so \
            `cleave run EDGE --remote` reaches the same model on Triton or KServe.

            Other models in REPO are left alone; REPO/NAME is written beside itself \
            and renamed into place. A bundle from `split --adaptive` is written as \
            one model per cut, NAME.<id> (and NAME, the default cut), as `cleave \
            serve` names them; their weights.bin files are hard links to one copy.

            Example:
              cleave export-triton out/cloud -o model_repository
              tritonserver --model-repository=model_repository
            """)

    @Argument(help: "The bundle folder to export (usually the cloud half).")
    var bundle: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The model repository to write into (created if missing).", valueName: "repo"))
    var output: String

    @OptionGroup var model: RepositoryModelName

    @Flag(help: "Replace REPO/NAME if it exists.")
    var force = false

    @Flag(help: "Print what was written as JSON.")
    var json = false

    func run() throws {
        let loaded = try LoadedBundle(path: bundle)
        let models = try TritonExport.writeEveryCut(loaded, to: output, name: model.name, force: force)
        if json && models.count > 1 {
            print(JSON.array(models.map { .object([("model", .string($0.config.name)), ("folder", .string($0.folder))]) }).serialized(pretty: true))
            return
        }
        if models.count > 1 {
            for (folder, config) in models { print("model '\(config.name)' → \(folder)") }
            return
        }
        let (folder, config) = models[0]
        let files = [folder + "/config.pbtxt", folder + "/1/model.onnx/model.onnx", folder + "/1/model.onnx/weights.bin"]
        if json {
            func tensors(_ list: [TritonModelConfig.TensorConfig]) -> JSON {
                .array(list.map { .object([("name", .string($0.name)), ("data_type", .string($0.dataType)), ("dims", .array($0.dims.map { .int($0) }))]) })
            }
            print(JSON.object([
                ("model", .string(config.name)), ("folder", .string(folder)),
                ("files", .array(files.map { .string($0) })),
                ("max_batch_size", .int(config.maxBatchSize)),
                ("inputs", tensors(config.inputs)), ("outputs", tensors(config.outputs)),
            ]).serialized(pretty: true))
        } else {
            print("model '\(config.name)' → \(folder)")
            for file in files { print("  \(file)") }
            for (kind, list) in [("input", config.inputs), ("output", config.outputs)] {
                for t in list { print("\(kind) \(t.name): \(t.dataType) [\(t.dims.map(String.init).joined(separator: ", "))]") }
            }
        }
    }
}

/// `--name` of export-triton and export-kserve: the model's folder in a Triton
/// repository, and its name in v2 URLs.
struct RepositoryModelName: ParsableArguments {
    @Option(help: "The model's name in the repository (default: the source model's, as `cleave serve` names it).")
    var name: String?

    func validate() throws {
        if let name, !ServedModel.isValidName(name) {
            throw ValidationError("--name must be letters, digits, '.', '_' and '-', not starting with '.' (it is a folder name and appears in URLs)")
        }
    }
}
