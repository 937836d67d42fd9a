import ArgumentParser
import CleaveBundle
import CleaveIR
import CleaveServe

struct ExportKServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-kserve",
        abstract: "Write a cloud bundle as a KServe deployment: a Triton model repository and an InferenceService.",
        discussion: """
            Verifies CLOUD_BUNDLE, then writes DIR/repository (a Triton model \
            repository, as export-triton writes it) and DIR/inferenceservice.json: a \
            serving.kserve.io/v1beta1 InferenceService whose predictor serves the \
            repository with KServe's Triton runtime (kserve-tritonserver, model format \
            onnx, protocolVersion v2) from --storage-uri, with 1 CPU and 2 GiB (more for \
            a big model) requested and as limits. The service is named after the model \
            (lowercase, '-' for other characters); the model keeps the name `cleave \
            serve` uses, so `cleave run EDGE --remote` reaches it unchanged.

            DIR is written beside itself and renamed into place.

            Example:
              cleave export-kserve out/cloud -o kserve --storage-uri s3://models/resnet
              aws s3 cp --recursive kserve/repository s3://models/resnet
              kubectl apply -f kserve/inferenceservice.json
            """)

    @Argument(help: "The cloud bundle folder to deploy.")
    var bundle: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The folder to write (repository/ and inferenceservice.json).", valueName: "dir"))
    var output: String

    @Option(name: .customLong("storage-uri"), help: ArgumentHelp("Where DIR/repository will be uploaded (s3://, gs://, pvc://, https://…); the manifest's storageUri. Without it, fill storageUri in before applying.", valueName: "uri"))
    var storageURI: String?

    @OptionGroup var model: RepositoryModelName

    @Flag(help: "Replace DIR if it exists.")
    var force = false

    @Flag(help: "Print what was written as JSON.")
    var json = false

    func validate() throws {
        if let storageURI {
            guard let scheme = storageURI.range(of: "://"), scheme.lowerBound != storageURI.startIndex,
                  scheme.upperBound != storageURI.endIndex, !storageURI.contains(where: \.isWhitespace) else {
                throw ValidationError("--storage-uri '\(storageURI)' must be a URI such as s3://bucket/path, gs://bucket/path or pvc://claim/path")
            }
        }
    }

    func run() throws {
        let loaded = try LoadedBundle(path: bundle)
        let result = try KServeExport.write(loaded, to: output, name: model.name, storageURI: storageURI, force: force)
        if json {
            print(JSON.object([
                ("model", .string(result.modelName)), ("service", .string(result.serviceName)),
                ("repository", .string(output + "/repository")), ("model_folder", .string(result.modelFolder)),
                ("manifest", .string(result.manifestPath)), ("storage_uri", storageURI.map { .string($0) } ?? .null),
                ("runtime", .string(KServeExport.runtime)),
            ]).serialized(pretty: true))
        } else {
            print("model '\(result.modelName)' → \(result.modelFolder) (Triton model repository: \(output)/repository)")
            print("InferenceService '\(result.serviceName)' → \(result.manifestPath) (runtime \(KServeExport.runtime), protocol v2)")
            if let storageURI {
                print("next: upload \(output)/repository to \(storageURI), then kubectl apply -f \(result.manifestPath)")
            } else {
                print("next: upload \(output)/repository, set spec.predictor.model.storageUri to where it went (or pass --storage-uri), then kubectl apply -f \(result.manifestPath)")
            }
        }
    }
}
