#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resolves ONNX external-data references (`location`, `offset`, `length`)
/// relative to the model's folder, mapping each data file once.
///
/// A location must stay inside the model's folder: absolute paths, `..`
/// components and symbolic links that lead outside are refused, because a
/// model is untrusted input and must not make cleave read arbitrary files.
struct ExternalDataResolver {
    let folder: String
    private var files: [String: MappedFile] = [:]

    init(modelPath: String) {
        if let slash = modelPath.lastIndex(of: "/") {
            let prefix = String(modelPath[..<slash])
            folder = prefix.isEmpty ? "/" : prefix
        } else {
            folder = "."
        }
    }

    mutating func storage(entries: [(key: String, value: String)], byteCount: Int, what: String) throws -> TensorStorage {
        var location: String?
        var offset = 0
        var length: Int?
        for (key, value) in entries {
            switch key {
            case "location": location = value
            case "offset":
                guard let v = Int(value), v >= 0 else { throw CleaveError.badInput("\(what): external data offset '\(value)' is not a non-negative integer") }
                offset = v
            case "length":
                guard let v = Int(value), v >= 0 else { throw CleaveError.badInput("\(what): external data length '\(value)' is not a non-negative integer") }
                length = v
            default: break  // checksum and future keys are not needed to read the data
            }
        }
        guard let location, !location.isEmpty else { throw CleaveError.badInput("\(what): external data has no location") }
        if let length, length != byteCount {
            throw CleaveError.badInput("\(what): external data length \(length) disagrees with its dims, which need \(byteCount) bytes")
        }
        let file = try mappedFile(location: location, what: what)
        let (end, overflow) = offset.addingReportingOverflow(byteCount)
        guard !overflow, end <= file.count else {
            throw CleaveError.badInput("\(what): external data bytes \(offset)..<\(offset &+ byteCount) run past the end of '\(location)' (\(file.count) bytes)")
        }
        return TensorStorage(file: file, range: offset..<end)
    }

    private mutating func mappedFile(location: String, what: String) throws -> MappedFile {
        if let cached = files[location] { return cached }
        guard !location.hasPrefix("/") else {
            throw CleaveError.badInput("\(what): external data location '\(location)' is an absolute path, which points outside the model's folder")
        }
        let components = location.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.contains("..") else {
            throw CleaveError.badInput("\(what): external data location '\(location)' uses '..' and points outside the model's folder")
        }
        let path = folder + "/" + location
        guard let realFolder = Self.realPath(folder), let realFile = Self.realPath(path) else {
            throw CleaveError.badInput("\(what): external data file '\(location)' does not exist next to the model")
        }
        guard realFile.hasPrefix(realFolder == "/" ? "/" : realFolder + "/") else {
            throw CleaveError.badInput("\(what): external data location '\(location)' is a link that points outside the model's folder")
        }
        let file = try MappedFile(path: realFile)
        files[location] = file
        return file
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
