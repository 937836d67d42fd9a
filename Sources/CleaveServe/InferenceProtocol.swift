import CleaveIR

/// Pieces of the Open Inference Protocol (KServe v2) shared by the server
/// (requests in, responses out) and `cleave run --remote` (the reverse).
///
/// A body is a JSON header, optionally followed by raw tensor bytes — the
/// binary tensor data extension: the `Inference-Header-Content-Length` header
/// gives the JSON's length, and each tensor sent in binary carries
/// `"parameters": {"binary_data_size": N}` instead of `"data"`; the binary
/// sections follow the JSON in the order of those tensors, little-endian,
/// row-major, with no padding.
public enum InferenceProtocol {
    /// The HTTP header that marks a body with binary tensor data.
    public static let headerLengthField = "Inference-Header-Content-Length"
    /// The version every served model reports: a bundle is one version.
    public static let modelVersion = "1"

    /// One entry of a request's `inputs` or a response's `outputs`, read and checked.
    public struct WireTensor {
        public var name: String
        public var parameters: [(String, JSON)]
        /// Holds the datatype and shape the entry declared.
        public var tensor: Tensor

        /// The value of parameter `key`.
        public func parameter(_ key: String) -> JSON? { parameters.first { $0.0 == key }?.1 }
    }

    /// The binary section after the JSON header, consumed in order.
    public struct BinaryCursor {
        let bytes: UnsafeRawBufferPointer
        var offset: Int

        /// - Parameters:
        ///   - body: the whole body.
        ///   - start: where the binary section starts (the header's length).
        public init(body: UnsafeRawBufferPointer, start: Int) {
            bytes = body
            offset = start
        }

        /// Bytes not yet claimed by a tensor.
        public var remaining: Int { bytes.count - offset }

        mutating func take(_ count: Int, for name: String) throws -> UnsafeRawBufferPointer {
            guard count <= remaining else {
                throw ServeError.badRequest("tensor '\(name)': binary_data_size is \(count) bytes but only \(remaining) bytes of binary data remain (truncated body?)")
            }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        }
    }

    // MARK: reading

    /// Reads one tensor entry: `name`, `datatype`, `shape`, optional `parameters`,
    /// and either `data` (JSON, flat or nested row-major) or `binary_data_size`
    /// bytes from `binary`.
    /// - Parameter role: "input" or "output", for messages.
    /// - Throws: `ServeError` 400 naming the tensor and the field.
    public static func readTensor(_ entry: JSON, role: String, binary: inout BinaryCursor) throws -> WireTensor {
        guard entry.objectValue != nil else { throw ServeError.badRequest("each \(role) must be a JSON object") }
        guard let name = entry["name"]?.stringValue else { throw ServeError.badRequest("an \(role) has no string 'name'") }
        func fail(_ why: String) -> ServeError { .badRequest("\(role) '\(name)': \(why)") }

        guard let typeName = entry["datatype"]?.stringValue else { throw fail("'datatype' must be a string") }
        guard let dtype = DType(kserveName: typeName) else {
            throw fail("datatype '\(typeName)' is not supported (FP32, FP16, FP64, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, BOOL)")
        }
        guard let dims = entry["shape"]?.arrayValue else { throw fail("'shape' must be an array of integers") }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v) = d, v >= 0 else { throw fail("'shape' must hold non-negative integers") }
            shape.append(v)
        }
        guard let count = Shape.checkedElementCount(shape), let size = dtype.byteSize,
              case (let byteCount, false) = count.multipliedReportingOverflow(by: size) else {
            throw fail("shape \(shape) is too large")
        }
        var parameters: [(String, JSON)] = []
        // `null` is what pydantic-based servers (KServe, MLServer) write for no parameters.
        if let p = entry["parameters"], p != .null {
            guard let members = p.objectValue else { throw fail("'parameters' must be an object") }
            parameters = members
        }

        let data = entry["data"]
        let binarySize = parameters.first { $0.0 == "binary_data_size" }?.1
        let tensor: Tensor
        switch (data, binarySize) {
        case (nil, let size?):
            guard case .int(let declared) = size, declared >= 0 else { throw fail("'binary_data_size' must be a non-negative integer") }
            guard declared == byteCount else {
                throw fail("binary_data_size is \(declared) bytes but \(typeName)\(shape) needs \(byteCount)")
            }
            let bytes = try binary.take(declared, for: name)
            tensor = Tensor(dtype: dtype, shape: Shape(shape), storage: TensorStorage(copying: bytes))
        case (let data?, nil):
            tensor = try tensorFromJSON(data, dtype: dtype, shape: shape, count: count, fail: fail)
        case (.some, .some):
            throw fail("has both 'data' and binary_data_size; send one")
        case (nil, nil):
            throw fail("has neither 'data' nor a binary_data_size parameter")
        }
        return WireTensor(name: name, parameters: parameters, tensor: tensor)
    }

    /// The elements of a `data` array (flat, or nested row-major), checked for
    /// count and kind before any memory is allocated for them.
    static func tensorFromJSON(_ data: JSON, dtype: DType, shape: [Int], count: Int, fail: (String) -> ServeError) throws -> Tensor {
        var values: [JSON] = []
        func flatten(_ value: JSON, depth: Int) throws {
            if case .array(let items) = value {
                guard depth <= shape.count else { throw fail("'data' is nested deeper than the shape's rank \(shape.count)") }
                for item in items { try flatten(item, depth: depth + 1) }
            } else {
                values.append(value)
            }
        }
        guard case .array = data else { throw fail("'data' must be an array") }
        try flatten(data, depth: 1)
        guard values.count == count else { throw fail("'data' holds \(values.count) elements but shape \(shape) needs \(count)") }

        let tensor = Tensor.uninitialized(dtype, Shape(shape))
        func fill<T>(_ type: T.Type, _ convert: (JSON) -> T?) throws {
            try tensor.withUnsafeMutableBufferPointer(as: T.self) { out in
                for (i, value) in values.enumerated() {
                    guard let v = convert(value) else {
                        throw fail("element \(i) of 'data' (\(value.serialized())) is not a valid \(dtype.kserveName ?? dtype.name)")
                    }
                    out[i] = v
                }
            }
        }
        func integer<T: FixedWidthInteger>(_ type: T.Type) throws {
            try fill(T.self) { if case .int(let v) = $0 { return T(exactly: v) }; return nil }
        }
        switch dtype {
        case .float: try fill(Float.self) { $0.doubleValue.map { Float($0) } }
        case .double: try fill(Double.self) { $0.doubleValue }
        case .float16: try fill(Float16.self) { $0.doubleValue.map { Float16(Float($0)) } }
        case .int8: try integer(Int8.self)
        case .int16: try integer(Int16.self)
        case .int32: try integer(Int32.self)
        case .int64: try integer(Int64.self)
        case .uint8: try integer(UInt8.self)
        case .uint16: try integer(UInt16.self)
        case .uint32: try integer(UInt32.self)
        case .uint64: try integer(UInt64.self)
        case .bool: try fill(Bool.self) { $0.boolValue }
        default: throw fail("\(dtype.kserveName ?? dtype.name) data must be sent as binary data")
        }
        return tensor
    }

    // MARK: writing

    /// A tensor entry for a request's `inputs` or a response's `outputs`: in
    /// binary (its bytes go to `binary`) or as a flat JSON `data` array. Types
    /// JSON cannot carry (BF16) go in binary either way.
    public static func entry(name: String, tensor: Tensor, binary asked: Bool, parameters: [(String, JSON)] = [],
                             into section: inout [UInt8]) -> JSON {
        let elements = asked ? nil : jsonElements(tensor)
        let binary = elements == nil
        var members: [(String, JSON)] = [
            ("name", .string(name)),
            ("datatype", .string(tensor.dtype.kserveName ?? tensor.dtype.name)),
            ("shape", .array(tensor.shape.dims.map { .int($0) })),
        ]
        var parameters = parameters
        if binary {
            parameters.append(("binary_data_size", .int(tensor.byteCount)))
            section.append(contentsOf: tensor.storage.bytes)
        }
        if !parameters.isEmpty { members.append(("parameters", .object(parameters))) }
        if let elements { members.append(("data", .array(elements))) }
        return .object(members)
    }

    /// The elements of `tensor` as JSON values, row-major; nil for a type JSON
    /// data cannot carry. Non-finite floats become `null`, which JSON cannot
    /// otherwise express.
    static func jsonElements(_ tensor: Tensor) -> [JSON]? {
        func floats<T: BinaryFloatingPoint>(_ type: T.Type) -> [JSON] {
            tensor.withUnsafeBufferPointer(as: T.self) { $0.map { .double(Double($0)) } }
        }
        func integers<T: FixedWidthInteger>(_ type: T.Type) -> [JSON] {
            tensor.withUnsafeBufferPointer(as: T.self) { $0.map { Int(exactly: $0).map { .int($0) } ?? .double(Double($0)) } }
        }
        switch tensor.dtype {
        case .float: return floats(Float.self)
        case .double: return floats(Double.self)
        case .float16: return floats(Float16.self)
        case .int8: return integers(Int8.self)
        case .int16: return integers(Int16.self)
        case .int32: return integers(Int32.self)
        case .int64: return integers(Int64.self)
        case .uint8: return integers(UInt8.self)
        case .uint16: return integers(UInt16.self)
        case .uint32: return integers(UInt32.self)
        case .uint64: return integers(UInt64.self)
        case .bool: return tensor.withUnsafeBufferPointer(as: UInt8.self) { $0.map { .bool($0 != 0) } }
        default: return nil
        }
    }

    /// A body: the JSON header, then the binary section. The header length is
    /// nil when there is no binary section (the body is plain JSON).
    public static func body(header: JSON, binary: [UInt8]) -> (body: [UInt8], headerLength: Int?) {
        var body = Array(header.serialized().utf8)
        guard !binary.isEmpty else { return (body, nil) }
        let headerLength = body.count
        body.append(contentsOf: binary)
        return (body, headerLength)
    }

    /// Parses the `Inference-Header-Content-Length` value against the body size.
    /// - Returns: the JSON header's length (the whole body when the field is absent).
    public static func headerLength(_ field: String?, bodyCount: Int) throws -> Int {
        guard let field else { return bodyCount }
        guard let length = Int(field.trimmingSpaces()), length >= 0 else {
            throw ServeError.badRequest("\(headerLengthField) '\(field)' is not a non-negative integer")
        }
        guard length <= bodyCount else {
            throw ServeError.badRequest("\(headerLengthField) is \(length) but the body has only \(bodyCount) bytes")
        }
        return length
    }

    /// The JSON header of a body.
    public static func parseHeader(_ body: UnsafeRawBufferPointer, length: Int) throws -> JSON {
        do {
            let json = try JSON.parse(Array(body[0..<length]))
            guard json.objectValue != nil else { throw ServeError.badRequest("the JSON header must be an object") }
            return json
        } catch let error as CleaveError {
            throw ServeError.badRequest(error.message)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
