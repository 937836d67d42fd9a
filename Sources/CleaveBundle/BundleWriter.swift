import CleaveIR
import Crypto
import Foundation

/// What a pair of bundles is made from.
public struct BundleRequest {
    /// The whole model, as imported.
    public var graph: Graph
    /// The resolved type of every value (from `Analysis`).
    public var types: [String: TensorType]
    public var partition: Partition
    /// The model file the graph came from (its name and SHA-256 go into the manifests).
    public var sourcePath: String
    /// How the cut was chosen, recorded in both manifests.
    public var plan: JSON?

    public init(graph: Graph, types: [String: TensorType], partition: Partition, sourcePath: String, plan: JSON? = nil) {
        self.graph = graph
        self.types = types
        self.partition = partition
        self.sourcePath = sourcePath
        self.plan = plan
    }
}

/// Writes an edge and a cloud bundle (schemas/BUNDLE.md).
///
/// Both go into a temporary sibling of the output folder, are synced, and the
/// folder is renamed into place, so a reader (or a crash) sees either no bundle
/// or complete ones. Weights are streamed from their mapped source into
/// weights.bin while being hashed; nothing holds a second copy.
public enum BundleWriter {
    /// Writes `OUTDIR/edge` and `OUTDIR/cloud`.
    /// - Parameters:
    ///   - force: replace an existing OUTDIR (it is swapped out only after the new one is complete).
    ///   - signingKey: adds manifest.sig to each bundle (§5).
    /// - Returns: the edge and cloud manifests.
    /// - Throws: `CleaveError.io` when OUTDIR exists without `force` or a write fails.
    @discardableResult
    public static func write(_ request: BundleRequest, to outputDirectory: String, force: Bool = false,
                             signingKey: Curve25519.Signing.PrivateKey? = nil) throws -> (edge: Manifest, cloud: Manifest) {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fileManager.fileExists(atPath: outputDirectory, isDirectory: &isDirectory)
        if exists && !force {
            throw CleaveError.io("\(outputDirectory) already exists; pass --force to replace it")
        }
        let sourceSHA256 = try SHA256Digest.hex(ofFile: request.sourcePath)
        let pairID = SHA256Digest.hex(of: Array((sourceSHA256 + "\n" + request.partition.boundary.sorted().joined(separator: "\n")).utf8))

        let temporary = AtomicFile.temporarySibling(of: outputDirectory)
        do {
            try fileManager.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        } catch {
            throw CleaveError.io("\(outputDirectory): cannot create a temporary folder beside it: \(error.localizedDescription)")
        }
        do {
            var manifests: [Manifest] = []
            for side in [Partition.Side.edge, .cloud] {
                manifests.append(try writeHalf(side, request: request, pairID: pairID, sourceSHA256: sourceSHA256,
                                               into: temporary + "/" + side.rawValue, signingKey: signingKey))
            }
            AtomicFile.syncDirectory(containing: temporary + "/edge")
            if exists {
                let old = AtomicFile.temporarySibling(of: outputDirectory)
                guard rename(outputDirectory, old) == 0 else { throw CleaveError.io("\(outputDirectory): cannot move the old folder aside: \(String(cString: strerror(errno)))") }
                guard rename(temporary, outputDirectory) == 0 else {
                    _ = rename(old, outputDirectory)
                    throw CleaveError.io("\(outputDirectory): cannot rename into place: \(String(cString: strerror(errno)))")
                }
                try? fileManager.removeItem(atPath: old)
            } else {
                guard rename(temporary, outputDirectory) == 0 else {
                    throw CleaveError.io("\(outputDirectory): cannot rename into place: \(String(cString: strerror(errno)))")
                }
            }
            AtomicFile.syncDirectory(containing: outputDirectory)
            return (manifests[0], manifests[1])
        } catch {
            try? fileManager.removeItem(atPath: temporary)
            throw error
        }
    }

    static func writeHalf(_ side: Partition.Side, request: BundleRequest, pairID: String, sourceSHA256: String,
                          into folder: String, signingKey: Curve25519.Signing.PrivateKey?) throws -> Manifest {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        var half = try request.partition.half(side, of: request.graph, types: request.types)
        half.model.metadata.removeAll { $0.key.hasPrefix("cleave.") }
        half.model.metadata += [("cleave.role", side.rawValue), ("cleave.pair_id", pairID),
                                ("cleave.format_version", String(Manifest.formatVersion))]

        // weights.bin: stream each tensor at its aligned offset while hashing.
        let (offsets, _) = WeightLayout.offsets(for: half.initializers.map(\.tensor.byteCount))
        let weightsPath = folder + "/weights.bin"
        var hasher = SHA256()
        var written = 0
        try writeFile(weightsPath) { fd in
            let zeros = [UInt8](repeating: 0, count: WeightLayout.pageAlignment)
            for (initializer, offset) in zip(half.initializers, offsets) {
                let padding = offset - written
                if padding > 0 {
                    try zeros.withUnsafeBytes { all in
                        let pad = UnsafeRawBufferPointer(rebasing: all[0..<padding])
                        hasher.update(bufferPointer: pad)
                        try AtomicFile.writeAll(fd, pad, path: weightsPath)
                    }
                }
                let bytes = initializer.tensor.storage.bytes
                hasher.update(bufferPointer: bytes)
                try AtomicFile.writeAll(fd, bytes, path: weightsPath)
                written = offset + bytes.count
            }
        }
        let weightsEntry = Manifest.FileEntry(path: "weights.bin", size: written, sha256: SHA256Digest.hex(hasher.finalize()))

        let modelPath = folder + "/model.onnx"
        let offsetTable = Dictionary(uniqueKeysWithValues: zip(half.initializers.map(\.name), offsets))
        try ONNXExporter.write(half, to: modelPath, weights: .external(location: "weights.bin", offsets: offsetTable))
        let modelSize = try MappedFile(path: modelPath).count
        let modelEntry = Manifest.FileEntry(path: "model.onnx", size: modelSize, sha256: try SHA256Digest.hex(ofFile: modelPath))

        func spec(_ info: ValueInfo) throws -> Manifest.TensorSpec {
            guard let type = request.types[info.name] else { throw CleaveError.badInput("tensor '\(info.name)' has no known type") }
            return Manifest.TensorSpec(name: info.name, dtype: type.dtype, shape: type.shape)
        }
        let initializerNames = Set(half.initializers.map(\.name))
        let manifest = Manifest(
            role: side, pairID: pairID,
            sourceName: String(request.sourcePath.split(separator: "/").last ?? Substring(request.sourcePath)),
            sourceSHA256: sourceSHA256, opsets: half.model.opsets,
            inputs: try half.inputs.filter { !initializerNames.contains($0.name) }.map(spec),
            outputs: try half.outputs.map(spec),
            boundary: try request.partition.boundary.map { name in
                let type = try spec(ValueInfo(name: name, dtype: nil, dims: nil))
                return Manifest.BoundaryTensor(tensor: type, codec: "none")
            },
            finalOutputs: request.partition.finalOutputs(side, of: request.graph),
            plan: request.plan,
            files: [modelEntry, weightsEntry])
        let manifestBytes = Array(manifest.json.serialized(pretty: true).utf8) + [0x0A]
        try writeFile(folder + "/manifest.json") { fd in
            try manifestBytes.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: folder + "/manifest.json") }
        }
        if let signingKey {
            let signature = Array(try signingKey.signature(for: manifestBytes))
            try writeFile(folder + "/manifest.sig") { fd in
                try signature.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: folder + "/manifest.sig") }
            }
        }
        AtomicFile.syncDirectory(containing: modelPath)
        return manifest
    }

    /// Creates `path` (which must not exist), lets `body` write it, and syncs it.
    static func writeFile(_ path: String, _ body: (Int32) throws -> Void) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CleaveError.io("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try body(fd)
        guard fsync(fd) == 0 else { throw CleaveError.io("\(path): cannot sync: \(String(cString: strerror(errno)))") }
    }
}
