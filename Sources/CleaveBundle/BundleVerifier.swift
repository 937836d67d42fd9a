import CleaveIR
import Crypto
import Foundation

/// What `verify` found in one bundle.
public struct BundleReport: Sendable {
    public var path: String
    /// The manifest, when it could be read and passed its own checks.
    public var manifest: Manifest?
    /// One line per problem, each naming the file and the rule (§ of schemas/BUNDLE.md).
    public var problems: [String] = []
    /// Whether a manifest.sig is present, and whether a trusted key verified it.
    public var signed = false
    public var signatureVerified = false

    public var isValid: Bool { problems.isEmpty }
}

/// Checks bundles against schemas/BUNDLE.md, cheapest check first: the
/// manifest, file sizes, then file hashes, then the model itself.
public enum BundleVerifier {
    /// Largest manifest.json read (§2.1).
    public static let maximumManifestBytes = 1 << 20

    /// Verifies the bundle at `path`.
    /// - Parameter trustedKey: when given, the bundle must carry a manifest.sig
    ///   made by this key (§5).
    public static func verify(_ path: String, trustedKey: Curve25519.Signing.PublicKey? = nil) -> BundleReport {
        var report = BundleReport(path: path)
        func problem(_ message: String) { report.problems.append("\(path)/\(message)") }

        // §1.2: the folder itself and its entries.
        var info = stat()
        guard lstat(path, &info) == 0 else {
            report.problems.append("\(path): does not exist")
            return report
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            report.problems.append("\(path): is not a folder (a bundle is a folder; §1)")
            return report
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []

        // §2: the manifest.
        let manifestPath = path + "/manifest.json"
        guard lstat(manifestPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            problem("manifest.json: missing or not a regular file (§2)")
            return report
        }
        guard Int(info.st_size) <= maximumManifestBytes else {
            problem("manifest.json: \(info.st_size) bytes, more than the \(maximumManifestBytes) allowed (§2.1)")
            return report
        }
        let manifestBytes: [UInt8]
        do {
            manifestBytes = try MappedFile.contents(of: manifestPath)
        } catch {
            problem("manifest.json: cannot be read: \(error)")
            return report
        }
        let manifest: Manifest
        do {
            manifest = try Manifest(json: try JSON.parse(manifestBytes, maximumDepth: 32))
        } catch let error as CleaveError {
            problem(error.message.hasPrefix("manifest.json") ? error.message : "manifest.json: \(error.message) (§2.1)")
            return report
        } catch {
            problem("manifest.json: \(error)")
            return report
        }

        // §5: signature.
        let signaturePath = path + "/manifest.sig"
        report.signed = entries.contains("manifest.sig")
        if let trustedKey {
            if !report.signed {
                problem("manifest.sig: missing, but a trusted key was given: the bundle is unsigned (§5)")
            } else if let signature = try? MappedFile.contents(of: signaturePath),
                      trustedKey.isValidSignature(signature, for: manifestBytes) {
                report.signatureVerified = true
            } else {
                problem("manifest.sig: not a valid signature of manifest.json by the trusted key (§5)")
            }
        }

        // §1.1, §1.2: exactly the listed files, plain names, no links.
        let listed = Set(manifest.files.map(\.path))
        for file in manifest.files {
            if file.path.contains("/") || file.path == ".." || file.path == "." || file.path.isEmpty {
                problem("\(file.path): listed path is not a plain file name inside the bundle (§1.2)")
            }
        }
        if manifest.files.map(\.path) != manifest.files.map(\.path).sorted() || listed.count != manifest.files.count {
            problem("manifest.json: 'files' must be sorted by path without duplicates (§2.2)")
        }
        for entry in entries.sorted() where entry != "manifest.json" && entry != "manifest.sig" && !listed.contains(entry) {
            problem("\(entry): not listed in the manifest (§1.1)")
        }
        for entry in entries.sorted() {
            if lstat(path + "/" + entry, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                problem("\(entry): is a symbolic link; bundles hold only plain files (§1.2)")
            } else if (info.st_mode & S_IFMT) != S_IFREG {
                problem("\(entry): is not a regular file (§1.1)")
            }
        }
        for required in ["weights.bin"] + manifest.everyCut.compactMap(\.model) where !listed.contains(required) {
            problem("manifest.json: 'files' does not list \(required) (§1)")
        }
        guard report.problems.isEmpty else { return report }

        // §1.3: sizes (cheap), then hashes.
        for file in manifest.files {
            guard lstat(path + "/" + file.path, &info) == 0 else {
                problem("\(file.path): listed but missing (§1.3)")
                continue
            }
            if Int(info.st_size) != file.size {
                problem("\(file.path): \(info.st_size) bytes, manifest says \(file.size) (§1.3)")
            }
        }
        guard report.problems.isEmpty else { return report }
        for file in manifest.files {
            do {
                let digest = try SHA256Digest.hex(ofFile: path + "/" + file.path)
                if digest != file.sha256 { problem("\(file.path): sha256 does not match the manifest: the file was altered (§1.3)") }
            } catch {
                problem("\(file.path): cannot be read: \(error)")
            }
        }
        guard report.problems.isEmpty else { return report }

        // §3: the model and its weights.
        for message in checkModel(path: path, manifest: manifest) { problem(message) }
        if report.problems.isEmpty { report.manifest = manifest }
        return report
    }

    /// §3, §7: every model file parses and matches its cut, and weights.bin is laid out exactly.
    static func checkModel(path: String, manifest: Manifest) -> [String] {
        // One model per cut (version 2), or model.onnx alone (version 1).
        let models = manifest.everyCut.compactMap { cut in
            cut.model.map { (file: $0, cut: cut, what: manifest.version >= 2 ? "\($0) (cut \(cut.id))" : $0) }
        }
        var problems: [String] = []
        var placed: [String: (offset: Int, length: Int, file: String)] = [:]
        for (file, cut, what) in models {
            let graph: Graph
            do {
                graph = try ONNXImporter.load(path: path + "/" + file)
            } catch let error as CleaveError {
                problems.append("\(what): does not load: \(error.message) (§3.1)")
                continue
            } catch {
                problems.append("\(what): does not load: \(error) (§3.1)")
                continue
            }
            let metadata = Dictionary(graph.model.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if metadata["cleave.role"] != manifest.role.rawValue || metadata["cleave.pair_id"] != manifest.pairID
                || metadata["cleave.format_version"] != String(manifest.version)
                || (manifest.version >= 2 && metadata["cleave.cut"] != cut.id) {
                problems.append("\(what): metadata_props do not repeat the manifest's role, pair id, format version\(manifest.version >= 2 ? " and cut id" : "") (§3.1)")
            }
            if graph.model.opsets != manifest.opsets {
                problems.append("\(what): opset imports differ from the manifest (§2.2)")
            }
            func specs(_ infos: [ValueInfo]) -> [Manifest.TensorSpec?] {
                infos.map { info in
                    guard let dtype = info.dtype, let shape = info.shape else { return nil }
                    return Manifest.TensorSpec(name: info.name, dtype: dtype, shape: shape)
                }
            }
            let owner = manifest.version >= 2 ? "cut \(cut.id)'s" : "the manifest's"
            if specs(graph.runtimeInputs) != cut.inputs.map(Optional.some) {
                problems.append("\(what): graph inputs differ from \(owner) inputs (§3.4)")
            }
            if specs(graph.outputs) != cut.outputs.map(Optional.some) {
                problems.append("\(what): graph outputs differ from \(owner) outputs (§3.4)")
            }
            // §3.2: every large initializer external in weights.bin; the same tensor at the same place in every model.
            for initializer in graph.initializers {
                guard WeightLayout.isExternal(byteCount: initializer.tensor.byteCount) else {
                    if initializer.externalData != nil {
                        problems.append("\(what): initializer '\(initializer.name)' has \(initializer.tensor.byteCount) bytes and must be embedded, not external (§3.2)")
                    }
                    continue
                }
                guard let reference = initializer.externalData, reference.location == "weights.bin" else {
                    problems.append("\(what): initializer '\(initializer.name)' is not stored in weights.bin (§3.2)")
                    continue
                }
                if let earlier = placed[initializer.name] {
                    if earlier.offset != reference.offset || earlier.length != reference.length {
                        problems.append("\(what): initializer '\(initializer.name)' is at another place of weights.bin than in \(earlier.file) (§7)")
                    }
                } else {
                    placed[initializer.name] = (reference.offset, reference.length, file)
                }
            }
        }

        // §3.3: the tensors, in offset order, tile weights.bin exactly.
        guard problems.isEmpty, let weightsSize = manifest.files.first(where: { $0.path == "weights.bin" })?.size else { return problems }
        var expectedEnd = 0
        var zeroCheck: MappedFile?
        for (name, reference) in placed.sorted(by: { ($0.value.offset, $0.key) < ($1.value.offset, $1.key) }) {
            let alignment = WeightLayout.alignment(forByteCount: reference.length)
            let expectedOffset = WeightLayout.align(expectedEnd, to: alignment)
            if reference.offset != expectedOffset {
                problems.append("\(reference.file): initializer '\(name)' is at offset \(reference.offset) of weights.bin, expected \(expectedOffset) (overlap, gap or misalignment; §3.3)")
            } else if reference.offset > expectedEnd {
                // Padding must be zero bytes.
                if zeroCheck == nil { zeroCheck = try? MappedFile(path: path + "/weights.bin") }
                let nonZero = zeroCheck?.withBytes { bytes in
                    reference.offset <= bytes.count && bytes[expectedEnd..<reference.offset].contains(where: { $0 != 0 })
                } ?? false
                if nonZero {
                    problems.append("weights.bin: padding before '\(name)' is not zero (§3.3)")
                }
            }
            expectedEnd = reference.offset + reference.length
        }
        if problems.isEmpty && expectedEnd != weightsSize {
            problems.append("weights.bin: \(weightsSize) bytes, but its tensors end at \(expectedEnd) (§3.3)")
        }
        return problems
    }

    /// §4: two verified bundles form a pair (§7: at every cut).
    public static func checkPair(_ a: Manifest, _ b: Manifest) -> [String] {
        var problems: [String] = []
        if a.pairID != b.pairID { problems.append("the bundles are not a pair: their pair ids differ (§4)") }
        if a.sourceSHA256 != b.sourceSHA256 { problems.append("the bundles were cut from different models (§4)") }
        guard a.role != b.role else { return problems + ["both bundles are \(a.role.rawValue) halves; a pair needs one edge and one cloud (§4)"] }
        let (edge, cloud) = a.role == .edge ? (a, b) : (b, a)
        guard edge.cuts.map(\.id) == cloud.cuts.map(\.id), edge.defaultCut == cloud.defaultCut else {
            return problems + ["the halves list different cuts: edge \(edge.cuts.map(\.id)), cloud \(cloud.cuts.map(\.id)) (§7)"]
        }
        for (e, c) in zip(edge.everyCut, cloud.everyCut) {
            let name = edge.version >= 2 ? "cut \(e.id): " : ""
            if e.boundary != c.boundary {
                problems.append("\(name)the halves disagree on the boundary (§4)")
                continue
            }
            guard c.model != nil else {
                if !e.boundary.isEmpty { problems.append("\(name)the cloud half has no model, but the edge sends \(e.boundary.map(\.tensor.name)) (§7)") }
                continue
            }
            let boundary = e.outputs.filter { !e.finalOutputs.contains($0.name) || c.inputs.contains($0) }
            if boundary != c.inputs {
                problems.append("\(name)the cloud half's inputs \(c.inputs.map { "\($0.name) \($0.type)" }) are not the edge half's boundary outputs \(boundary.map { "\($0.name) \($0.type)" }) (§4)")
            }
        }
        return problems
    }
}
