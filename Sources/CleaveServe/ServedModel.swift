import CleaveBundle
import CleaveIR
import CleaveRuntime

/// One verified bundle served under a name, with a pool of sessions that run it.
///
/// The name is the source model's file name without its extension, with every
/// character outside `[A-Za-z0-9._-]`, and a leading dot, replaced by `_`
/// (`squeezenet.onnx` → `squeezenet`); both halves of a cut share it, so `cleave run --remote`
/// finds the cloud half under the name its edge manifest implies.
public final class ServedModel: @unchecked Sendable {
    public let name: String
    public let bundle: LoadedBundle
    public let config: TritonModelConfig
    let pool: SessionPool

    public var inputs: [Manifest.TensorSpec] { bundle.manifest.inputs }
    public var outputs: [Manifest.TensorSpec] { bundle.manifest.outputs }

    /// Builds `workers` sessions of one kernel thread each.
    /// - Throws: `CleaveError.badInput` when the bundle uses an op or a dtype
    ///   cleave cannot run or the protocol cannot carry.
    public init(bundle: LoadedBundle, name: String? = nil, workers: Int) throws {
        self.bundle = bundle
        self.name = name ?? ServedModel.defaultName(for: bundle.manifest)
        for spec in bundle.manifest.inputs + bundle.manifest.outputs where spec.dtype.kserveName == nil {
            throw CleaveError.badInput("\(bundle.path): tensor '\(spec.name)' has dtype \(spec.dtype.name), which the inference protocol cannot carry")
        }
        config = try TritonModelConfig(name: self.name, manifest: bundle.manifest)
        pool = try SessionPool(count: workers) { try bundle.session(options: SessionOptions(threads: 1)) }
    }

    /// Every model a bundle serves: a version-1 bundle one, named `name`; a
    /// version-2 bundle one per cut with a half on its side, named `name.<cut id>`,
    /// and `name` itself for the default cut (the same model as `name.<default id>`).
    /// - Returns: (served name, model) pairs, `name` first.
    public static func all(bundle: LoadedBundle, name: String? = nil, workers: Int) throws -> [(name: String, model: ServedModel)] {
        let base = name ?? defaultName(for: bundle.manifest)
        guard bundle.manifest.version >= 2, let defaultID = bundle.manifest.defaultCut else {
            return [(base, try ServedModel(bundle: bundle, name: base, workers: workers))]
        }
        var served: [(String, ServedModel)] = []
        var defaultModel: ServedModel?
        for cut in bundle.manifest.cuts where cut.model != nil {
            let model = try ServedModel(bundle: try bundle.cut(cut.id), name: cutName(base, cut.id), workers: workers)
            if cut.id == defaultID { defaultModel = model }
            served.append((model.name, model))
        }
        guard let defaultModel else { throw CleaveError.badInput("\(bundle.path): the default cut \(defaultID) has no model on this side") }
        return [(base, defaultModel)] + served
    }

    /// The served name of cut `id` of the model served as `base`.
    public static func cutName(_ base: String, _ id: String) -> String { "\(base).\(id)" }

    /// The name a bundle is served under by default.
    public static func defaultName(for manifest: Manifest) -> String {
        var stem = Substring(manifest.sourceName)
        if let dot = stem.lastIndex(of: "."), dot != stem.startIndex { stem = stem[..<dot] }
        var safe = String(stem.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        // A leading dot would hide the model's folder in a Triton repository.
        if safe.hasPrefix(".") { safe = "_" + safe.dropFirst() }
        return safe.isEmpty ? "model" : safe
    }

    /// True for a name `--name` may give: `[A-Za-z0-9._-]+`, not starting with a
    /// dot, since it appears in URLs and names a repository folder.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// `GET /v2/models/{name}`: the model's metadata (KServe v2), plus the
    /// bundle's pair id, role and (version 2) cut id under `parameters` so a
    /// client can check it talks to the half that matches its own.
    public var metadata: JSON {
        func tensor(_ spec: Manifest.TensorSpec) -> JSON {
            .object([("name", .string(spec.name)), ("datatype", .string(spec.dtype.kserveName ?? spec.dtype.name)),
                     ("shape", .array(spec.shape.dims.map { .int($0) }))])
        }
        return .object([
            ("name", .string(name)),
            ("versions", .array([.string(InferenceProtocol.modelVersion)])),
            ("platform", .string("cleave")),
            ("inputs", .array(inputs.map(tensor))),
            ("outputs", .array(outputs.map(tensor))),
            ("parameters", .object([("pair_id", .string(bundle.manifest.pairID)), ("role", .string(bundle.manifest.role.rawValue))]
                                   + (bundle.manifest.version >= 2 ? [("cut", .string(bundle.cutID ?? ""))] : []))),
        ])
    }

    /// Runs the model on a worker thread.
    /// - Returns: the outputs and the milliseconds the run itself took (not the wait for a worker).
    func infer(_ inputs: [String: Tensor]) async throws -> (outputs: [String: Tensor], milliseconds: Double) {
        try await pool.run { session in
            let start = Session.now()
            let outputs = try session.run(inputs)
            return (outputs, (Session.now() - start) * 1000)
        }
    }

    /// Stops the workers once queued runs are done. Stopping twice is harmless, so a
    /// model served under two names (`all`'s default cut) can be stopped through each.
    public func shutdown() { pool.shutdown() }
}
