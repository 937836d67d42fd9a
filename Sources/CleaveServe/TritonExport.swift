import CleaveBundle
import CleaveIR
import Foundation

/// Writes a bundle as one model of a Triton model repository, so that a
/// Triton or KServe cluster can serve the cloud half in place of `cleave serve`:
///
/// ```
/// REPO/<name>/config.pbtxt               onnxruntime backend, max_batch_size: 0
/// REPO/<name>/1/model.onnx/model.onnx    the bundle's model (external data)
/// REPO/<name>/1/model.onnx/weights.bin   its weights, which model.onnx names
/// ```
///
/// A model with external weights is a folder named like the model file; the
/// bundle's model.onnx refers to `weights.bin` by a relative path, so both
/// files are copied unchanged. `REPO/<name>` is written beside itself and
/// renamed into place: other models of the repository are left alone, and a
/// reader sees the old model folder or the complete new one.
public enum TritonExport {
    /// Exports the verified bundle `bundle` into `repository`.
    /// - Parameters:
    ///   - name: the model's name in the repository; by default the one `cleave serve` uses.
    ///   - force: replace an existing `REPO/<name>`.
    /// - Returns: the folder written (`REPO/<name>`) and its configuration.
    /// - Throws: `CleaveError.io` when `REPO/<name>` exists without `force` or a
    ///   write fails; `CleaveError.badInput` for a tensor Triton has no type for.
    @discardableResult
    public static func write(_ bundle: LoadedBundle, to repository: String, name: String? = nil, force: Bool = false) throws -> (folder: String, config: TritonModelConfig) {
        try write(bundle, to: repository, name: name, force: force, sharedWeights: nil)
    }

    /// Exports every cut of a version-2 bundle as its own Triton model
    /// (`NAME.<id>`, and `NAME` for the default cut), or a version-1 bundle as
    /// `write` does. Triton loads each model from its own folder, so the cuts
    /// cannot point at one weights.bin; each folder's weights.bin is a hard
    /// link to the first one written (one copy on disk), or a copy where the
    /// file system refuses links.
    /// - Returns: the folders written, the default (`NAME`) first.
    @discardableResult
    public static func writeEveryCut(_ bundle: LoadedBundle, to repository: String, name: String? = nil, force: Bool = false) throws -> [(folder: String, config: TritonModelConfig)] {
        let base = name ?? ServedModel.defaultName(for: bundle.manifest)
        guard bundle.manifest.version >= 2 else { return [try write(bundle, to: repository, name: base, force: force)] }
        var written = [try write(bundle, to: repository, name: base, force: force, sharedWeights: nil)]
        let weights = written[0].folder + "/1/model.onnx/weights.bin"
        for cut in bundle.manifest.cuts where cut.model != nil {
            written.append(try write(try bundle.cut(cut.id), to: repository, name: ServedModel.cutName(base, cut.id), force: force, sharedWeights: weights))
        }
        return written
    }

    /// The files of a bundle's (cut's) half as Triton gets them: its model file, saved as model.onnx, and weights.bin.
    static func files(of bundle: LoadedBundle) -> [(source: Manifest.FileEntry, name: String)] {
        let model = bundle.manifest.cut(bundle.cutID)?.model ?? "model.onnx"
        return bundle.manifest.files.compactMap { file in
            file.path == model ? (file, "model.onnx") : file.path == "weights.bin" ? (file, "weights.bin") : nil
        }
    }

    static func write(_ bundle: LoadedBundle, to repository: String, name: String?, force: Bool,
                      sharedWeights: String?) throws -> (folder: String, config: TritonModelConfig) {
        let name = name ?? ServedModel.defaultName(for: bundle.manifest)
        let config = try TritonModelConfig(name: name, manifest: bundle.manifest)
        let fileManager = FileManager.default
        let folder = repository + "/" + name
        if fileManager.fileExists(atPath: folder) && !force { throw CleaveError.io("\(folder) already exists; pass --force to replace it") }
        do {
            try fileManager.createDirectory(atPath: repository, withIntermediateDirectories: true)
        } catch {
            throw CleaveError.io("\(repository): cannot create the repository folder: \(error.localizedDescription)")
        }

        let temporary = AtomicFile.temporarySibling(of: folder)
        do {
            let weightsFolder = temporary + "/1/model.onnx"
            do {
                try fileManager.createDirectory(atPath: weightsFolder, withIntermediateDirectories: true)
            } catch {
                throw CleaveError.io("\(folder): cannot create a temporary folder beside it: \(error.localizedDescription)")
            }
            let header = "# Written by cleave export-triton from \(bundle.path) (\(bundle.manifest.role.rawValue) half of pair \(bundle.manifest.pairID)).\n"
            try AtomicFile.write(to: temporary + "/config.pbtxt") { fd in
                let text = Array((header + config.text).utf8)
                try text.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: folder + "/config.pbtxt") }
            }
            for (file, target) in files(of: bundle) {
                let destination = weightsFolder + "/" + target
                if target == "weights.bin", let sharedWeights, link(sharedWeights, destination) == 0 { continue }
                try copy(bundle.path + "/" + file.path, to: destination)
                // The copy must be what was verified, even if the bundle changed meanwhile.
                guard try SHA256Digest.hex(ofFile: destination) == file.sha256 else {
                    throw CleaveError.badInput("\(bundle.path)/\(file.path): changed while it was exported; its SHA-256 no longer matches the manifest")
                }
            }
            AtomicFile.syncDirectory(containing: weightsFolder + "/model.onnx")
            AtomicFile.syncDirectory(containing: temporary + "/1")
            AtomicFile.syncDirectory(containing: temporary + "/config.pbtxt")
            try AtomicFile.moveFolderIntoPlace(temporary, at: folder)
            return (folder, config)
        } catch {
            try? fileManager.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Copies `source` to `destination` in 4 MiB pieces, synced.
    static func copy(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw CleaveError.io("\(source): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { buffer.deallocate() }
        try AtomicFile.write(to: destination) { output in
            while true {
                let n = read(input, buffer.baseAddress, buffer.count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw CleaveError.io("\(source): read failed: \(String(cString: strerror(errno)))") }
                if n == 0 { return }
                try AtomicFile.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: destination)
            }
        }
    }
}
