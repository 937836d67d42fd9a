import CleaveBundle
import CleaveIR
import Foundation

/// Writes a cloud bundle as a KServe deployment: the Triton model repository
/// `TritonExport` writes, and an `InferenceService` that serves it with
/// KServe's Triton runtime over the v2 protocol.
///
/// ```
/// DIR/repository/<name>/...      the Triton repository (upload it to the storage URI)
/// DIR/inferenceservice.json      serving.kserve.io/v1beta1 InferenceService (kubectl apply -f)
/// ```
///
/// The storage URI is the repository's root, as KServe's Triton runtime
/// expects (`--model-store=/mnt/models`); inside, the model keeps the name
/// `cleave serve` gives it, so `cleave run EDGE --remote` finds it unchanged.
/// DIR is written beside itself and renamed into place.
public enum KServeExport {
    /// The ServingRuntime KServe ships for Triton.
    public static let runtime = "kserve-tritonserver"
    /// Triton's runtime serves ONNX models in format version 1.
    public static let modelFormat = ("onnx", "1")
    /// The longest InferenceService name written: KServe derives longer names
    /// from it (`<name>-predictor-…`) that must stay within DNS's 63 characters.
    public static let maxServiceNameLength = 45

    /// What `write` produced.
    public struct Written {
        /// `DIR/repository/<name>`.
        public var modelFolder: String
        public var modelName: String
        public var serviceName: String
        public var manifestPath: String
        public var manifest: JSON
    }

    /// Exports the verified cloud bundle `bundle` to `directory`.
    /// - Parameters:
    ///   - name: the model's name in the repository; by default the one `cleave serve` uses.
    ///   - storageURI: where the repository will be uploaded (`s3://…`, `gs://…`, `pvc://…`);
    ///     without it the manifest has no `storageUri`, to be filled in.
    ///   - force: replace an existing `directory`.
    /// - Throws: `CleaveError.badInput` for an edge bundle or a tensor Triton has
    ///   no type for; `CleaveError.io` when `directory` exists without `force` or a write fails.
    @discardableResult
    public static func write(_ bundle: LoadedBundle, to directory: String, name: String? = nil, storageURI: String? = nil,
                             force: Bool = false) throws -> Written {
        guard bundle.manifest.role == .cloud else {
            throw CleaveError.badInput("\(bundle.path): is an \(bundle.manifest.role.rawValue) bundle; export-kserve deploys the cloud half")
        }
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: directory) && !force { throw CleaveError.io("\(directory) already exists; pass --force to replace it") }
        let modelName = name ?? ServedModel.defaultName(for: bundle.manifest)
        let serviceName = serviceName(for: modelName)
        let bytes = bundle.manifest.files.reduce(0) { $0.addingReportingOverflow($1.size).partialValue }
        let manifest = inferenceService(name: serviceName, storageURI: storageURI, memory: memory(forModelBytes: bytes),
                                        annotations: [("cleave/model", modelName), ("cleave/pair-id", bundle.manifest.pairID)])

        let temporary = AtomicFile.temporarySibling(of: directory)
        do {
            do {
                try fileManager.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            } catch {
                throw CleaveError.io("\(directory): cannot create a temporary folder beside it: \(error.localizedDescription)")
            }
            try TritonExport.write(bundle, to: temporary + "/repository", name: modelName)
            try AtomicFile.write(to: temporary + "/inferenceservice.json") { fd in
                let text = Array((manifest.serialized(pretty: true) + "\n").utf8)
                try text.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: directory + "/inferenceservice.json") }
            }
            try AtomicFile.moveFolderIntoPlace(temporary, at: directory)
        } catch {
            try? fileManager.removeItem(atPath: temporary)
            throw error
        }
        return Written(modelFolder: directory + "/repository/" + modelName, modelName: modelName, serviceName: serviceName,
                      manifestPath: directory + "/inferenceservice.json", manifest: manifest)
    }

    /// The InferenceService: one predictor with the Triton runtime, protocol v2,
    /// the ONNX model format, the storage URI and the resources (requests = limits).
    public static func inferenceService(name: String, storageURI: String?, memory: String, annotations: [(String, String)]) -> JSON {
        let resources = JSON.object([("cpu", .string("1")), ("memory", .string(memory))])
        var model: [(String, JSON)] = [
            ("modelFormat", .object([("name", .string(modelFormat.0)), ("version", .string(modelFormat.1))])),
            ("runtime", .string(runtime)),
            ("protocolVersion", .string("v2")),
        ]
        if let storageURI { model.append(("storageUri", .string(storageURI))) }
        model.append(("resources", .object([("requests", resources), ("limits", resources)])))
        return .object([
            ("apiVersion", .string("serving.kserve.io/v1beta1")),
            ("kind", .string("InferenceService")),
            ("metadata", .object([("name", .string(name)), ("annotations", .object(annotations.map { ($0.0, .string($0.1)) }))])),
            ("spec", .object([("predictor", .object([("model", .object(model))]))])),
        ])
    }

    /// A Kubernetes name (DNS-1035 label: lowercase letters, digits and '-',
    /// starting with a letter, ending with a letter or digit) made from a model
    /// name: `resnet_tail` → `resnet-tail`; `cleave-model` when nothing is left.
    public static func serviceName(for modelName: String) -> String {
        var name = ""
        for character in modelName.lowercased() {
            let keep = character.isASCII && (character.isLetter || character.isNumber)
            if keep { name.append(character) } else if !name.isEmpty && !name.hasSuffix("-") { name.append("-") }
        }
        while let first = name.first, !first.isLetter { name.removeFirst() }
        name = String(name.prefix(maxServiceNameLength))
        while name.hasSuffix("-") { name.removeLast() }
        return name.isEmpty ? "cleave-model" : name
    }

    /// Memory for the Triton container: its runtime's default of 2 GiB, or
    /// 1 GiB plus twice the model's bytes (ONNX Runtime holds the weights
    /// while it builds its own copy) when that is more, in whole MiB.
    public static func memory(forModelBytes bytes: Int) -> String {
        let mebibytes = 1024 + (bytes.multipliedReportingOverflow(by: 2).partialValue + (1 << 20) - 1) / (1 << 20)
        return mebibytes <= 2048 ? "2Gi" : "\(mebibytes)Mi"
    }
}
