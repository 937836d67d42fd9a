import CleaveIR
import CleaveRuntime
import Crypto

/// A verified bundle, ready to run: the library entry point for apps that
/// embed one half. Its weights stay memory-mapped from weights.bin.
public final class LoadedBundle {
    public let path: String
    /// The manifest; for a cut's view (`cut(_:)`), with that cut's inputs, outputs and boundary at top level.
    public let manifest: Manifest
    public let graph: Graph
    /// The cut this object runs: nil for a version-1 bundle, else a cut id (the default cut's, as loaded).
    public let cutID: String?

    /// Verifies the bundle (schemas/BUNDLE.md) and loads its model.
    /// - Throws: `CleaveError.badInput` listing the verification problems, if any.
    public init(path: String, trustedKey: Curve25519.Signing.PublicKey? = nil) throws {
        let report = BundleVerifier.verify(path, trustedKey: trustedKey)
        guard let manifest = report.manifest, report.isValid else {
            throw CleaveError.badInput("bundle does not verify: " + report.problems.joined(separator: "; "))
        }
        self.path = path
        self.manifest = manifest
        self.graph = try ONNXImporter.load(path: path + "/model.onnx")
        cutID = manifest.defaultCut
    }

    private init(path: String, manifest: Manifest, graph: Graph, cutID: String) {
        self.path = path
        self.manifest = manifest
        self.graph = graph
        self.cutID = cutID
    }

    /// The ids of the bundle's cuts (version 2), in manifest order; empty for version 1.
    public var cutIDs: [String] { manifest.cuts.map(\.id) }

    /// The same bundle running cut `id`: its model file, with the cut's inputs,
    /// outputs and boundary as the manifest's (the bundle was verified when loaded).
    /// - Throws: `CleaveError.badInput` naming the cuts there are, or saying that
    ///   this half has nothing to run at that cut (the cloud side of edge-only).
    public func cut(_ id: String) throws -> LoadedBundle {
        if id == cutID { return self }
        guard let cut = manifest.cut(id) else {
            let known = cutIDs.isEmpty ? "it holds a single cut (format version 1)" : "its cuts are \(cutIDs.joined(separator: ", "))"
            throw CleaveError.badInput("\(path): has no cut '\(id)'; \(known)")
        }
        guard let model = cut.model else {
            throw CleaveError.badInput("\(path): cut '\(id)' has nothing to run on the \(manifest.role.rawValue) side")
        }
        return LoadedBundle(path: path, manifest: manifest.viewing(cut), graph: try ONNXImporter.load(path: path + "/" + model), cutID: id)
    }

    /// A session that runs this half.
    public func session(options: SessionOptions = SessionOptions()) throws -> Session {
        try Session(graph: graph, options: options)
    }
}

/// An edge and a cloud bundle that form a pair, run one after the other.
public final class BundlePair {
    public let edge: LoadedBundle
    public let cloud: LoadedBundle
    private let edgeSession: Session
    private let cloudSession: Session

    /// Loads and verifies both halves and checks that they form a pair (§4).
    public init(_ a: LoadedBundle, _ b: LoadedBundle, options: SessionOptions = SessionOptions()) throws {
        let problems = BundleVerifier.checkPair(a.manifest, b.manifest)
        guard problems.isEmpty else { throw CleaveError.badInput(problems.joined(separator: "; ")) }
        (edge, cloud) = a.manifest.role == .edge ? (a, b) : (b, a)
        edgeSession = try edge.session(options: options)
        cloudSession = try cloud.session(options: options)
    }

    /// Runs edge then cloud; returns every output of the whole model.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        let edgeOutputs = try edgeSession.run(inputs)
        var cloudInputs: [String: Tensor] = [:]
        for spec in cloud.manifest.inputs { cloudInputs[spec.name] = edgeOutputs[spec.name] }
        var outputs = try cloudSession.run(cloudInputs)
        for name in edge.manifest.finalOutputs { outputs[name] = edgeOutputs[name] }
        return outputs
    }

    /// The model's outputs in order: the cloud's, then those computed on the edge.
    public var outputNames: [String] {
        cloud.manifest.outputs.map(\.name) + edge.manifest.finalOutputs
    }
}
