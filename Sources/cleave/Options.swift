import ArgumentParser
import CleaveIR
import CleaveRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `--input-shape NAME=D,D,...`, shared by every command that analyses a model.
struct ShapeOptions: ParsableArguments {
    @Option(name: .customLong("input-shape"),
            help: ArgumentHelp("Fix the shape of an input with symbolic dims, e.g. x=1,3,224,224 (repeatable). A leading symbolic batch dim defaults to 1.",
                               valueName: "name=dims"))
    var inputShapes: [String] = []

    /// The parsed `--input-shape` values.
    func parsed() throws -> [String: Shape] {
        var shapes: [String: Shape] = [:]
        for text in inputShapes {
            guard let equals = text.lastIndex(of: "=") else {
                throw ValidationError("--input-shape '\(text)' must look like NAME=D,D,... (e.g. input=1,3,224,224)")
            }
            let name = String(text[..<equals])
            let dims = text[text.index(after: equals)...].split(separator: ",").map { Int($0.trimmingCharacters(in: " ")) }
            guard !name.isEmpty, !dims.isEmpty, dims.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw ValidationError("--input-shape '\(text)' must look like NAME=D,D,... with non-negative integer dims")
            }
            shapes[name] = Shape(dims.map { $0 ?? 0 })
        }
        return shapes
    }

    func validate() throws { _ = try parsed() }
}

/// `--calibration NAME=FILE.npy`, shared by compress, plan and split: samples
/// stacked on axis 0, one file per model input.
struct CalibrationOptions: ParsableArguments {
    @Option(name: .customLong("calibration"),
            help: ArgumentHelp("Calibration samples for an input as NAME=FILE.npy, stacked on axis 0 (repeatable, one per input).",
                               valueName: "name=file"))
    var entries: [String] = []

    func validate() throws {
        for entry in entries where !entry.contains("=") {
            throw ValidationError("--calibration '\(entry)' must look like NAME=FILE.npy")
        }
    }

    /// The arrays by input name.
    func arrays() throws -> [String: Tensor] {
        var arrays: [String: Tensor] = [:]
        for entry in entries {
            guard let equals = entry.lastIndex(of: "=") else { continue }
            arrays[String(entry[..<equals])] = try Npy.read(path: String(entry[entry.index(after: equals)...]))
        }
        return arrays
    }
}

/// `--threads N`.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for cleave's kernels and OpenBLAS (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}

extension Substring {
    func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}

/// Writes a line to standard error (progress and warnings; errors go through `Cleave.main`).
func printError(_ line: String) {
    fputs(line + "\n", stderr)
}

/// Shows which compression a search is trying, on a terminal only (one line,
/// rewritten; cleared when `index` reaches `count`).
func progressLine(_ index: Int, _ count: Int, _ label: String) {
    guard isatty(STDERR_FILENO) != 0 else { return }
    fputs(index < count ? "\r\u{1B}[Ksearching \(index + 1)/\(count): \(label)" : "\r\u{1B}[K", stderr)
}

/// A name that is safe as a file name: every character outside [A-Za-z0-9._-] becomes "_".
func fileSafe(_ name: String) -> String {
    let safe = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
    return safe.isEmpty || safe == "." || safe == ".." ? "_" + safe : safe
}

/// A right-aligned or left-aligned text table.
func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
            return rightAligned.contains(i) ? pad + cell : cell + pad
        }.joined(separator: "  ").replacingTrailingSpaces()
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

extension String {
    func replacingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// 1234567 → "1.23M".
func humanCount(_ n: Int) -> String {
    let value = Double(n)
    switch abs(value) {
    case 1e9...: return String(format3(value / 1e9)) + "G"
    case 1e6...: return String(format3(value / 1e6)) + "M"
    case 1e3...: return String(format3(value / 1e3)) + "K"
    default: return String(n)
    }
}

/// Bytes as "12.3 MB" (decimal units).
func humanBytes(_ n: Int) -> String {
    let value = Double(n)
    switch value {
    case 1e9...: return format3(value / 1e9) + " GB"
    case 1e6...: return format3(value / 1e6) + " MB"
    case 1e3...: return format3(value / 1e3) + " KB"
    default: return "\(n) B"
    }
}

/// Three significant digits.
func format3(_ v: Double) -> String {
    let digits = v >= 100 ? 0 : v >= 10 ? 1 : 2
    return fixed(v, digits)
}

/// `v` with `digits` decimals.
func fixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (v * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if digits == 0 { text = String(text[..<dot]) }
        else if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}

/// Creates `path` (and parents) if missing.
func makeDirectory(_ path: String) throws {
    var partial = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        partial += "/" + component
        if mkdir(partial, 0o755) != 0 && errno != EEXIST {
            throw CleaveError.io("\(partial): cannot create directory: \(String(cString: strerror(errno)))")
        }
    }
}

/// Writes `text` to `path` atomically.
func writeText(_ text: String, to path: String) throws {
    try AtomicFile.write(to: path) { fd in
        try Array(text.utf8).withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
    }
}
