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
    /// Boundary tensors that travel quantised (the int8 codec's uint8 tensors).
    public var quantizedBoundary: Set<String>

    public init(graph: Graph, types: [String: TensorType], partition: Partition, sourcePath: String, plan: JSON? = nil,
                quantizedBoundary: Set<String> = []) {
        self.graph = graph
        self.types = types
        self.partition = partition
        self.sourcePath = sourcePath
        self.plan = plan
        self.quantizedBoundary = quantizedBoundary
    }

    /// The halves to write: both, or only the edge when the whole model runs there.
    var sides: [Partition.Side] { partition.cloudNodes.isEmpty ? [.edge] : [.edge, .cloud] }
}

/// Writes an edge and a cloud bundle (schemas/BUNDLE.md).
///
/// Both go into a temporary sibling of the output folder, are synced, and the
/// folder is renamed into place, so a reader (or a crash) sees either no bundle
/// or complete ones. Weights are streamed from their mapped source into
/// weights.bin while being hashed; nothing holds a second copy.
public enum BundleWriter {
    /// Writes `OUTDIR/edge` and `OUTDIR/cloud` (only `OUTDIR/edge` when the
    /// partition keeps every node on the edge).
    /// - Parameters:
    ///   - force: replace an existing OUTDIR (it is swapped out only after the new one is complete).
    ///   - signingKey: adds manifest.sig to each bundle (§5).
    /// - Returns: the edge and cloud manifests (the cloud one nil when only the edge is written).
    /// - Throws: `CleaveError.io` when OUTDIR exists without `force` or a write fails.
    @discardableResult
    public static func write(_ request: BundleRequest, to outputDirectory: String, force: Bool = false,
                             signingKey: Curve25519.Signing.PrivateKey? = nil) throws -> (edge: Manifest, cloud: Manifest?) {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: outputDirectory) && !force {
            throw CleaveError.io("\(outputDirectory) already exists; pass --force to replace it")
        }
        // Hash the source on another core while the weights are written: the
        // two are the bulk of a cut's time and neither needs the other.
        let sourceDigest = Background { try SHA256Digest.hex(ofFile: request.sourcePath) }

        let temporary = AtomicFile.temporarySibling(of: outputDirectory)
        do {
            try fileManager.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        } catch {
            throw CleaveError.io("\(outputDirectory): cannot create a temporary folder beside it: \(error.localizedDescription)")
        }
        do {
            // Every weights.bin first: the manifests need the source digest,
            // and waiting for it between the halves would leave a core idle.
            var halves: [WrittenWeights] = []
            for side in request.sides {
                halves.append(try writeWeights(side, request: request, into: temporary + "/" + side.rawValue))
            }
            let sourceSHA256 = try sourceDigest.value()
            let pairID = SHA256Digest.hex(of: Array((sourceSHA256 + "\n" + request.partition.boundary.sorted().joined(separator: "\n")).utf8))
            let manifests = try halves.map {
                try finishHalf($0, request: request, sourceSHA256: sourceSHA256, pairID: pairID, signingKey: signingKey)
            }
            AtomicFile.syncDirectory(containing: temporary + "/edge")
            try AtomicFile.moveFolderIntoPlace(temporary, at: outputDirectory)
            return (manifests[0], manifests.count > 1 ? manifests[1] : nil)
        } catch {
            _ = try? sourceDigest.value()  // never leave the hashing thread behind
            try? fileManager.removeItem(atPath: temporary)
            throw error
        }
    }

    /// One half whose weights.bin is written; the rest waits for the pair id.
    struct WrittenWeights {
        var side: Partition.Side
        var folder: String
        var half: Graph
        var offsets: [String: Int]
        var entry: Manifest.FileEntry
    }

    /// Creates the half's folder and writes its weights.bin.
    static func writeWeights(_ side: Partition.Side, request: BundleRequest, into folder: String) throws -> WrittenWeights {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let half = try request.partition.half(side, of: request.graph, types: request.types)

        // weights.bin: stream each tensor at its aligned offset while hashing.
        let external = half.initializers.filter { WeightLayout.isExternal(byteCount: $0.tensor.byteCount) }
        let (offsets, _) = WeightLayout.offsets(for: external.map(\.tensor.byteCount))
        let weightsPath = folder + "/weights.bin"
        var hasher = SHA256()
        var written = 0
        try writeFile(weightsPath) { fd in
            let zeros = [UInt8](repeating: 0, count: WeightLayout.pageAlignment)
            for (initializer, offset) in zip(external, offsets) {
                let padding = offset - written
                if padding > 0 {
                    try zeros.withUnsafeBytes { all in
                        let pad = UnsafeRawBufferPointer(rebasing: all[0..<padding])
                        hasher.update(bufferPointer: pad)
                        try AtomicFile.writeAll(fd, pad, path: weightsPath)
                    }
                }
                // A chunk at a time, so write() copies what hashing just brought into the cache.
                let bytes = initializer.tensor.storage.bytes
                for start in stride(from: 0, to: bytes.count, by: 1 << 20) {
                    let chunk = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + (1 << 20), bytes.count)])
                    hasher.update(bufferPointer: chunk)
                    try AtomicFile.writeAll(fd, chunk, path: weightsPath)
                }
                written = offset + bytes.count
            }
        }
        let entry = Manifest.FileEntry(path: "weights.bin", size: written, sha256: SHA256Digest.hex(hasher.finalize()))
        return WrittenWeights(side: side, folder: folder, half: half,
                              offsets: Dictionary(uniqueKeysWithValues: zip(external.map(\.name), offsets)), entry: entry)
    }

    /// Writes the half's model.onnx, manifest.json and (when signing) manifest.sig.
    static func finishHalf(_ written: WrittenWeights, request: BundleRequest, sourceSHA256: String, pairID: String,
                           signingKey: Curve25519.Signing.PrivateKey?) throws -> Manifest {
        let (side, folder) = (written.side, written.folder)
        var half = written.half
        half.model.metadata.removeAll { $0.key.hasPrefix("cleave.") }
        half.model.metadata += [("cleave.role", side.rawValue), ("cleave.pair_id", pairID),
                                ("cleave.format_version", String(Manifest.formatVersion))]
        let modelPath = folder + "/model.onnx"
        try ONNXExporter.write(half, to: modelPath, weights: .external(location: "weights.bin", offsets: written.offsets))
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
                return Manifest.BoundaryTensor(tensor: type, codec: request.quantizedBoundary.contains(name) ? "int8" : "none")
            },
            finalOutputs: request.partition.finalOutputs(side, of: request.graph),
            plan: request.plan,
            files: [modelEntry, written.entry])
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

/// A value computed on another thread; `value()` waits for it.
final class Background<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Value, Error>?

    init(_ work: @escaping () throws -> Value) {
        Thread.detachNewThread { [self] in
            result = Result { try work() }
            done.signal()
        }
    }

    /// Waits for the value (once ready, returns at once).
    func value() throws -> Value {
        if result == nil {
            done.wait()
            done.signal()
        }
        guard let result else { throw CleaveError.io("background work ended without a result") }
        return try result.get()
    }
}
