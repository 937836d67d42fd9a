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

    /// Several cuts in one pair (format version 2, §7); empty for a single-cut pair.
    public var cuts: [BundleCut] = []
    /// The id of the cut in `cuts` whose halves are model.onnx; `partition` is its partition.
    public var defaultCut: String?

    public init(graph: Graph, types: [String: TensorType], partition: Partition, sourcePath: String, plan: JSON? = nil,
                quantizedBoundary: Set<String> = []) {
        self.graph = graph
        self.types = types
        self.partition = partition
        self.sourcePath = sourcePath
        self.plan = plan
        self.quantizedBoundary = quantizedBoundary
    }

    /// A pair that holds several cuts; `defaultCut` must name one that has a cloud half.
    /// - Throws: `CleaveError.badInput` for an unknown or edge-only default, or duplicate or malformed ids.
    public init(graph: Graph, types: [String: TensorType], cuts: [BundleCut], defaultCut: String, sourcePath: String, plan: JSON? = nil) throws {
        guard let chosen = cuts.first(where: { $0.id == defaultCut }) else { throw CleaveError.badInput("default cut '\(defaultCut)' is not one of the cuts") }
        guard !chosen.partition.cloudNodes.isEmpty else { throw CleaveError.badInput("the default cut '\(defaultCut)' has no cloud half") }
        guard Set(cuts.map(\.id)).count == cuts.count, cuts.allSatisfy({ Manifest.Cut.isValidID($0.id) }) else {
            throw CleaveError.badInput("cut ids must be distinct and made of letters, digits, '_' and '-'")
        }
        self.init(graph: graph, types: types, partition: chosen.partition, sourcePath: sourcePath, plan: plan,
                  quantizedBoundary: chosen.quantizedBoundary)
        self.cuts = cuts
        self.defaultCut = defaultCut
    }

    /// The halves to write: both, or only the edge when the whole model runs there.
    var sides: [Partition.Side] {
        let cloud = cuts.isEmpty ? !partition.cloudNodes.isEmpty : cuts.contains { !$0.partition.cloudNodes.isEmpty }
        return cloud ? [.edge, .cloud] : [.edge]
    }

    /// The cuts that have a half on `side`, the default first; one unnamed cut for a single-cut pair.
    func halves(_ side: Partition.Side) -> [BundleCut] {
        guard !cuts.isEmpty else { return [BundleCut(id: "", partition: partition, quantizedBoundary: quantizedBoundary)] }
        let present = cuts.filter { side == .edge || !$0.partition.cloudNodes.isEmpty }
        return present.filter { $0.id == defaultCut } + present.filter { $0.id != defaultCut }
    }
}

/// One cut of a multi-cut pair.
public struct BundleCut: Sendable {
    public var id: String
    /// Edge-only is the partition with every node on the edge; cloud-only the one with none.
    public var partition: Partition
    public var quantizedBoundary: Set<String>
    /// Where the cut is optimal and its predicted stages, recorded in both manifests' `cuts`.
    public var plan: JSON?

    public init(id: String, partition: Partition, quantizedBoundary: Set<String> = [], plan: JSON? = nil) {
        self.id = id
        self.partition = partition
        self.quantizedBoundary = quantizedBoundary
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
            let pairID = request.cuts.isEmpty
                ? SHA256Digest.hex(of: Array((sourceSHA256 + "\n" + request.partition.boundary.sorted().joined(separator: "\n")).utf8))
                : SHA256Digest.hex(of: Array(([sourceSHA256] + request.cuts.map { "\($0.id):" + $0.partition.boundary.sorted().joined(separator: ",") })
                    .joined(separator: "\n").utf8))
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
        /// Each cut's half of this side, the default (model.onnx) first.
        var halves: [(cut: BundleCut, graph: Graph)]
        var offsets: [String: Int]
        var entry: Manifest.FileEntry
    }

    /// Creates the half's folder and writes its weights.bin: every weight that
    /// some cut's model of this side reads, once.
    static func writeWeights(_ side: Partition.Side, request: BundleRequest, into folder: String) throws -> WrittenWeights {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let halves = try request.halves(side).map { ($0, try $0.partition.half(side, of: request.graph, types: request.types)) }
        var seen = Set<String>()
        var external: [Initializer] = []
        for (_, half) in halves {
            for initializer in half.initializers where WeightLayout.isExternal(byteCount: initializer.tensor.byteCount) && seen.insert(initializer.name).inserted {
                external.append(initializer)
            }
        }

        // weights.bin: stream each tensor at its aligned offset while hashing.
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
        return WrittenWeights(side: side, folder: folder, halves: halves,
                              offsets: Dictionary(uniqueKeysWithValues: zip(external.map(\.name), offsets)), entry: entry)
    }

    /// Writes the half's model files, manifest.json and (when signing) manifest.sig.
    static func finishHalf(_ written: WrittenWeights, request: BundleRequest, sourceSHA256: String, pairID: String,
                           signingKey: Curve25519.Signing.PrivateKey?) throws -> Manifest {
        let (side, folder) = (written.side, written.folder)
        let version = request.cuts.isEmpty ? 1 : 2
        func spec(_ name: String) throws -> Manifest.TensorSpec {
            guard let type = request.types[name] else { throw CleaveError.badInput("tensor '\(name)' has no known type") }
            return Manifest.TensorSpec(name: name, dtype: type.dtype, shape: type.shape)
        }
        func boundary(_ cut: BundleCut) throws -> [Manifest.BoundaryTensor] {
            try cut.partition.boundary.map { Manifest.BoundaryTensor(tensor: try spec($0), codec: cut.quantizedBoundary.contains($0) ? "int8" : "none") }
        }

        var files: [Manifest.FileEntry] = [written.entry]
        var entries: [String: Manifest.Cut] = [:]
        for (index, (cut, graph)) in written.halves.enumerated() {
            var half = graph
            half.model.metadata.removeAll { $0.key.hasPrefix("cleave.") }
            half.model.metadata += [("cleave.role", side.rawValue), ("cleave.pair_id", pairID), ("cleave.format_version", String(version))]
            if version >= 2 { half.model.metadata.append(("cleave.cut", cut.id)) }
            let file = Manifest.Cut.modelFile(id: cut.id, isDefault: index == 0)
            let modelPath = folder + "/" + file
            try ONNXExporter.write(half, to: modelPath, weights: .external(location: "weights.bin", offsets: written.offsets))
            files.append(Manifest.FileEntry(path: file, size: try MappedFile(path: modelPath).count, sha256: try SHA256Digest.hex(ofFile: modelPath)))
            let initializerNames = Set(half.initializers.map(\.name))
            entries[cut.id] = Manifest.Cut(
                id: cut.id, model: file,
                inputs: try half.inputs.filter { !initializerNames.contains($0.name) }.map { try spec($0.name) },
                outputs: try half.outputs.map { try spec($0.name) },
                boundary: try boundary(cut), finalOutputs: cut.partition.finalOutputs(side, of: request.graph), plan: cut.plan)
        }
        // Cuts with nothing to run on this side (the cloud side of edge-only) are listed without a model.
        let cuts = try request.cuts.map { cut in
            try entries[cut.id] ?? Manifest.Cut(id: cut.id, model: nil, inputs: [], outputs: [], boundary: try boundary(cut),
                                                finalOutputs: cut.partition.finalOutputs(side, of: request.graph), plan: cut.plan)
        }
        guard let main = entries[written.halves.first?.cut.id ?? ""] else { throw CleaveError.badInput("the \(side.rawValue) half has no cut to write") }
        let manifest = Manifest(
            role: side, pairID: pairID,
            sourceName: String(request.sourcePath.split(separator: "/").last ?? Substring(request.sourcePath)),
            sourceSHA256: sourceSHA256, opsets: request.graph.model.opsets,
            inputs: main.inputs, outputs: main.outputs, boundary: main.boundary, finalOutputs: main.finalOutputs,
            plan: request.plan, cuts: cuts, defaultCut: request.defaultCut,
            files: files.sorted { $0.path < $1.path })
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
        AtomicFile.syncDirectory(containing: folder + "/manifest.json")
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
