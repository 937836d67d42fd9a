import CleaveIR

/// NumPy `.npy` files (format versions 1–3), C order, for the dtypes cleave
/// exchanges with users: float32, float16, float64, int64, int32, int8, uint8, bool.
public enum Npy {
    /// Largest header cleave accepts; real headers are well under 1 KiB.
    static let maximumHeader = 65_536

    static let descriptors: [(String, DType)] = [
        ("<f4", .float), ("<f2", .float16), ("<f8", .double), ("<i8", .int64), ("<i4", .int32),
        ("|i1", .int8), ("|u1", .uint8), ("|b1", .bool), ("<u1", .uint8), ("<i1", .int8),
    ]

    /// Reads the tensor in `path`. The data stays in the mapped file when it is aligned.
    /// - Throws: `CleaveError.badInput` for a malformed file, Fortran order, or an
    ///   unsupported dtype; `CleaveError.io` when the file cannot be read.
    public static func read(path: String) throws -> Tensor {
        let file = try MappedFile(path: path)
        return try file.withBytes { try decode(file: file, bytes: $0) }
    }

    private static func decode(file: MappedFile, bytes: UnsafeRawBufferPointer) throws -> Tensor {
        let path = file.path
        func fail(_ why: String) -> CleaveError { .badInput("\(path): \(why)") }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a NumPy .npy file") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated .npy header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail(".npy format version \(major) is not supported")
        }
        guard headerLength <= maximumHeader, headerStart + headerLength <= bytes.count else {
            throw fail("truncated .npy header")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = value(of: "descr", in: header).flatMap(quoted) else { throw fail("the .npy header has no 'descr'") }
        guard let dtype = descriptors.first(where: { $0.0 == descr })?.1 else {
            throw fail("dtype '\(descr)' is not supported (use float32, float16, float64, int64, int32, int8, uint8 or bool, little-endian)")
        }
        guard let order = value(of: "fortran_order", in: header) else { throw fail("the .npy header has no 'fortran_order'") }
        guard order.hasPrefix("False") else { throw fail("Fortran-order arrays are not supported; save with np.ascontiguousarray") }
        guard let shapeText = value(of: "shape", in: header), let dims = tuple(shapeText) else {
            throw fail("the .npy header has no readable 'shape'")
        }
        guard let count = Shape.checkedElementCount(dims), let size = dtype.byteSize else { throw fail("shape \(dims) is invalid") }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
        let dataStart = headerStart + headerLength
        guard !overflow, bytes.count - dataStart == byteCount else {
            throw fail("holds \(bytes.count - dataStart) data bytes, but shape \(dims) of \(dtype.name) needs \(overflow ? -1 : byteCount)")
        }
        let range = dataStart..<(dataStart + byteCount)
        let storage = dataStart % 64 == 0
            ? TensorStorage(file: file, range: range)
            : TensorStorage(copying: UnsafeRawBufferPointer(rebasing: bytes[range]))
        return Tensor(dtype: dtype, shape: Shape(dims), storage: storage)
    }

    /// The bytes of a version-1.0 .npy file holding `tensor` (header padded to 64 bytes).
    public static func encodeHeader(for tensor: Tensor) throws -> [UInt8] {
        guard let descr = descriptors.first(where: { $0.1 == tensor.dtype })?.0 else {
            throw CleaveError.badInput("dtype \(tensor.dtype.name) cannot be written as .npy")
        }
        let shape = tensor.shape.dims.count == 1
            ? "(\(tensor.shape.dims[0]),)"
            : "(" + tensor.shape.dims.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let length = dict.utf8.count
        out.append(UInt8(length & 0xFF))
        out.append(UInt8(length >> 8))
        out.append(contentsOf: dict.utf8)
        return out
    }

    /// Writes `tensor` to `path` atomically.
    public static func write(_ tensor: Tensor, to path: String) throws {
        let header = try encodeHeader(for: tensor)
        try AtomicFile.write(to: path) { fd in
            try header.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
            try AtomicFile.writeAll(fd, tensor.storage.bytes, path: path)
        }
    }

    // MARK: header parsing (a Python dict literal with known keys)

    static func value(of key: String, in header: String) -> Substring? {
        guard let end = endOfFirst("'\(key)'", in: header) ?? endOfFirst("\"\(key)\"", in: header) else { return nil }
        var rest = header[end...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        return rest
    }

    static func endOfFirst(_ needle: String, in text: String) -> String.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix(needle) { return text.index(index, offsetBy: needle.count) }
            index = text.index(after: index)
        }
        return nil
    }

    static func quoted(_ text: Substring) -> String? {
        guard let quote = text.first, quote == "'" || quote == "\"" else { return nil }
        let body = text.dropFirst()
        guard let end = body.firstIndex(of: quote) else { return nil }
        return String(body[..<end])
    }

    static func tuple(_ text: Substring) -> [Int]? {
        guard text.first == "(", let end = text.firstIndex(of: ")") else { return nil }
        let inner = text[text.index(after: text.startIndex)..<end]
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: " ")
            if trimmed.isEmpty { continue }
            guard let d = Int(trimmed.hasSuffix("L") ? String(trimmed.dropLast()) : trimmed), d >= 0 else { return nil }
            dims.append(d)
        }
        return dims
    }
}

extension Substring {
    func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
