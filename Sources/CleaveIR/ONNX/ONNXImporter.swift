import CProtobufC
import ONNXProto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads ONNX files into a validated `Graph`.
///
/// The file is memory-mapped; `PayloadStripper` hands protobuf-c the model
/// without its tensor payloads, and every weight becomes a `Tensor` whose
/// storage is a span of the mapping (or of a mapped external-data file), so
/// weights are never copied. Everything read from the file is checked before
/// use; every problem is a `CleaveError.badInput` naming the file and what is wrong.
public enum ONNXImporter {
    /// ai.onnx opset versions cleave accepts on import.
    public static let knownOpsets = 1...24
    /// ONNX IR versions cleave accepts.
    public static let knownIRVersions = 3...14

    /// Loads and validates the model at `path`.
    public static func load(path: String) throws -> Graph {
        let file = try MappedFile(path: path)
        return try load(file: file)
    }

    /// Loads and validates the model in `file`; external data is looked up
    /// next to `file.path`.
    public static func load(file: MappedFile) throws -> Graph {
        let path = file.path
        guard file.count > 0 else { throw CleaveError.badInput("\(path): empty file, not an ONNX model") }
        if let kind = recognizedOtherFormat(file.bytes) {
            throw CleaveError.badInput("\(path): this is \(kind), not an ONNX model")
        }
        let skeleton: [UInt8]
        do {
            skeleton = try PayloadStripper.skeleton(of: file.bytes)
        } catch WireError.truncated {
            throw CleaveError.badInput("\(path): truncated or not an ONNX model (a protobuf field runs past the end of the file)")
        } catch WireError.malformed(let why) {
            throw CleaveError.badInput("\(path): not an ONNX model (malformed protobuf: \(why))")
        }
        guard let model = skeleton.withUnsafeBufferPointer({ onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw CleaveError.badInput("\(path): not an ONNX model (protobuf-c rejected the ModelProto)")
        }
        defer { onnx__model_proto__free_unpacked(model, nil) }
        var reader = ProtoReader(file: file, externalData: ExternalDataResolver(modelPath: path))
        return try reader.graph(from: model.pointee)
    }
}

/// Names common file formats that are not ONNX, so a wrong file gets a clear message.
func recognizedOtherFormat(_ bytes: UnsafeRawBufferPointer) -> String? {
    func starts(with prefix: [UInt8]) -> Bool {
        bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
    }
    if starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "a PNG image" }
    if starts(with: [0xFF, 0xD8, 0xFF]) { return "a JPEG image" }
    if starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return "a NumPy .npy array" }
    if starts(with: [0x50, 0x4B, 0x03, 0x04]) { return "a ZIP archive (a PyTorch checkpoint?)" }
    if starts(with: [0x1F, 0x8B]) { return "a gzip stream" }
    if starts(with: Array("%PDF".utf8)) { return "a PDF document" }
    // Text: JSON objects/arrays and other printable files.
    var index = 0
    while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    if index < bytes.count, bytes[index] == UInt8(ascii: "{") || bytes[index] == UInt8(ascii: "[") {
        let sample = bytes.prefix(4096)
        if sample.allSatisfy({ $0 >= 0x20 || [0x09, 0x0A, 0x0D].contains($0) }) { return "a JSON or text file" }
    }
    return nil
}

/// Turns protobuf-c structs into IR values.
struct ProtoReader {
    let file: MappedFile
    var externalData: ExternalDataResolver
    var path: String { file.path }

    func fail(_ message: String) -> CleaveError { .badInput("\(path): \(message)") }

    mutating func graph(from model: Onnx__ModelProto) throws -> Graph {
        guard model.has_ir_version != 0 else { throw fail("no ir_version: not an ONNX model") }
        let irVersion = Int(model.ir_version)
        guard ONNXImporter.knownIRVersions.contains(irVersion) else {
            throw fail("ONNX IR version \(irVersion) is not supported (expected \(ONNXImporter.knownIRVersions.lowerBound)–\(ONNXImporter.knownIRVersions.upperBound))")
        }
        guard let graphProto = model.graph else { throw fail("the model has no graph") }

        var opsets: [OperatorSet] = []
        for entry in buffer(model.opset_import, model.n_opset_import) {
            guard let entry else { continue }
            let domain = string(entry.pointee.domain)
            let version = Int(entry.pointee.version)
            if domain.isEmpty || domain == "ai.onnx" {
                guard ONNXImporter.knownOpsets.contains(version) else {
                    throw fail("unknown ai.onnx opset version \(version) (cleave knows \(ONNXImporter.knownOpsets.lowerBound)–\(ONNXImporter.knownOpsets.upperBound))")
                }
            }
            opsets.append(OperatorSet(domain: domain, version: version))
        }
        if irVersion == 3 && opsets.isEmpty {
            throw fail("no opset_import: the model does not say which operator set it uses")
        }
        guard opsets.contains(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
            throw fail("no ai.onnx opset_import: the model does not say which operator set it uses")
        }

        var info = ModelInfo(irVersion: irVersion, opsets: opsets)
        info.producerName = string(model.producer_name)
        info.producerVersion = string(model.producer_version)
        info.domain = string(model.domain)
        info.modelVersion = model.has_model_version != 0 ? Int(model.model_version) : 0
        info.docString = string(model.doc_string)
        info.metadata = buffer(model.metadata_props, model.n_metadata_props).compactMap { entry in
            entry.map { (string($0.pointee.key), string($0.pointee.value)) }
        }
        info.opaqueFields = opaqueRepeated(field: 20, model.training_info, model.n_training_info)
            + opaqueRepeated(field: 25, model.functions, model.n_functions)
            + unknownFields(model.base)

        let g = graphProto.pointee
        var graph = Graph(
            model: info,
            name: string(g.name),
            inputs: try buffer(g.input, g.n_input).compactMap { try $0.map { try valueInfo($0.pointee) } },
            outputs: try buffer(g.output, g.n_output).compactMap { try $0.map { try valueInfo($0.pointee) } },
            initializers: [],
            nodes: [])
        graph.docString = string(g.doc_string)
        graph.valueInfo = try buffer(g.value_info, g.n_value_info).compactMap { try $0.map { try valueInfo($0.pointee) } }
        for tensorProto in buffer(g.initializer, g.n_initializer) {
            guard let tensorProto else { continue }
            let name = string(tensorProto.pointee.name)
            guard !name.isEmpty else { throw fail("an initializer has no name") }
            var initializer = Initializer(name: name, tensor: try tensor(tensorProto.pointee, what: "initializer '\(name)'"))
            initializer.docString = string(tensorProto.pointee.doc_string)
            initializer.externalData = externalReference(tensorProto.pointee, byteCount: initializer.tensor.byteCount)
            graph.initializers.append(initializer)
        }
        for (index, nodeProto) in buffer(g.node, g.n_node).enumerated() {
            guard let nodeProto else { continue }
            graph.nodes.append(try node(nodeProto.pointee, index: index))
        }
        graph.opaqueFields = opaqueRepeated(field: 15, g.sparse_initializer, g.n_sparse_initializer)
            + opaqueRepeated(field: 14, g.quantization_annotation, g.n_quantization_annotation)
            + opaqueRepeated(field: 16, g.metadata_props, g.n_metadata_props)
            + unknownFields(g.base)
        do {
            try graph.validate()
        } catch let error as CleaveError {
            throw fail(error.message)
        }
        return graph
    }

    // MARK: Values and nodes

    func valueInfo(_ proto: Onnx__ValueInfoProto) throws -> ValueInfo {
        let name = string(proto.name)
        var info = ValueInfo(name: name, dtype: nil, dims: nil, docString: string(proto.doc_string))
        guard let type = proto.type?.pointee, type.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
              let tensorType = type.tensor_type?.pointee
        else { return info }
        if tensorType.has_elem_type != 0 {
            guard let dtype = DType(rawValue: tensorType.elem_type) else {
                throw fail("value '\(name)' has unknown element type \(tensorType.elem_type)")
            }
            info.dtype = dtype
        }
        if let shape = tensorType.shape?.pointee {
            var dims: [Dim] = []
            for dim in buffer(shape.dim, shape.n_dim) {
                guard let dim = dim?.pointee else { dims.append(.unknown); continue }
                switch dim.value_case {
                case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                    // paddle2onnx writes -1 and old Caffe2/tf2onnx 0 for a dynamic dim; a declared
                    // type never means an empty tensor, so both resolve like a missing dim.
                    dims.append(dim.dim_value > 0 ? .fixed(Int(dim.dim_value)) : .unknown)
                case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                    // Paddle names every dynamic dim "?": each is its own unknown, not one shared size.
                    let param = string(dim.dim_param)
                    dims.append(param.isEmpty || param == "?" ? .unknown : .symbolic(param))
                default:
                    dims.append(.unknown)
                }
            }
            info.dims = dims
        }
        return info
    }

    mutating func node(_ proto: Onnx__NodeProto, index: Int) throws -> Node {
        let opType = string(proto.op_type)
        let name = string(proto.name)
        let label = name.isEmpty ? "#\(index) (\(opType))" : "'\(name)'"
        guard !opType.isEmpty else { throw fail("node \(label) has no op_type") }
        var node = Node(
            name: name, opType: opType, domain: string(proto.domain),
            inputs: buffer(proto.input, proto.n_input).map { string($0) },
            outputs: buffer(proto.output, proto.n_output).map { string($0) })
        node.docString = string(proto.doc_string)
        for attributeProto in buffer(proto.attribute, proto.n_attribute) {
            guard let attributeProto else { continue }
            node.attributes.append(try attribute(attributeProto, node: label))
        }
        var opaque: [OpaqueField] = []
        if let overload = proto.overload, overload.pointee != 0 {
            opaque.append(lengthDelimited(field: 8, bytes: Array(string(overload).utf8)))
        }
        opaque += opaqueRepeated(field: 9, proto.metadata_props, proto.n_metadata_props)
        node.opaqueFields = opaque + unknownFields(proto.base)
        return node
    }

    mutating func attribute(_ pointer: UnsafeMutablePointer<Onnx__AttributeProto>, node: String) throws -> Attribute {
        let proto = pointer.pointee
        let name = string(proto.name)
        let value: AttributeValue
        let isRef = proto.ref_attr_name.map { $0.pointee != 0 } ?? false
        switch (isRef, proto.type) {
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT): value = .float(proto.f)
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT): value = .int(Int(proto.i))
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING): value = .string(bytes(proto.s))
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR):
            guard let t = proto.t else { throw fail("attribute '\(name)' of node \(node) is a tensor attribute without a tensor") }
            value = .tensor(try tensor(t.pointee, what: "tensor attribute '\(name)' of node \(node)"))
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS):
            value = .floats(Array(buffer(proto.floats, proto.n_floats)))
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS):
            value = .ints(buffer(proto.ints, proto.n_ints).map { Int($0) })
        case (false, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS):
            value = .strings(buffer(proto.strings, proto.n_strings).map { bytes($0) })
        default:
            // Graphs, sparse tensors, type protos, tensor lists and references:
            // kept as packed bytes, written back unchanged.
            value = .opaque(pack(UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)))
        }
        var attribute = Attribute(name: name, value: value)
        attribute.docString = string(proto.doc_string)
        return attribute
    }

    // MARK: Tensors

    mutating func tensor(_ proto: Onnx__TensorProto, what: String) throws -> Tensor {
        guard proto.has_data_type != 0, let dtype = DType(rawValue: proto.data_type), dtype != .string else {
            let code = proto.has_data_type != 0 ? String(proto.data_type) : "none"
            throw fail("\(what) has unsupported data type \(code)")
        }
        guard let elementSize = dtype.byteSize else { throw fail("\(what) has data type \(dtype.name), which cleave does not support") }
        let dims = buffer(proto.dims, proto.n_dims).map { Int($0) }
        for (axis, d) in dims.enumerated() where d < 0 {
            throw fail("\(what) has negative dim \(d) at axis \(axis)")
        }
        guard let count = Shape.checkedElementCount(dims) else {
            throw fail("\(what) has dims \(dims) whose element count overflows")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw fail("\(what) has dims \(dims) whose byte size overflows") }
        let shape = Shape(dims)

        let storage: TensorStorage
        if proto.has_data_location != 0 && proto.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            let entries = buffer(proto.external_data, proto.n_external_data).compactMap { entry in
                entry.map { (key: string($0.pointee.key), value: string($0.pointee.value)) }
            }
            do {
                storage = try externalData.storage(entries: entries, byteCount: byteCount, what: what)
            } catch let error as CleaveError {
                throw fail(error.message)
            }
        } else if proto.has_cleave_payload_offset != 0 {
            let offset = Int(proto.cleave_payload_offset)
            let length = Int(proto.cleave_payload_length)
            guard length == byteCount else {
                throw fail("\(what): raw_data has \(length) bytes but dims \(shape) of \(dtype.name) need \(byteCount)")
            }
            storage = TensorStorage(file: file, range: offset..<(offset + length))
        } else {
            storage = try typedData(proto, dtype: dtype, count: count, byteCount: byteCount, what: what)
        }
        return Tensor(dtype: dtype, shape: shape, storage: storage)
    }

    /// The external-data reference of a tensor already read successfully.
    func externalReference(_ proto: Onnx__TensorProto, byteCount: Int) -> ExternalDataReference? {
        guard proto.has_data_location != 0 && proto.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL else { return nil }
        var reference = ExternalDataReference(location: "", offset: 0, length: byteCount)
        for entry in buffer(proto.external_data, proto.n_external_data) {
            guard let entry else { continue }
            switch string(entry.pointee.key) {
            case "location": reference.location = string(entry.pointee.value)
            case "offset": reference.offset = Int(string(entry.pointee.value)) ?? 0
            default: break
            }
        }
        return reference
    }

    /// Tensors stored in the typed repeated fields (float_data, int32_data, …),
    /// converted to the raw little-endian layout.
    func typedData(_ proto: Onnx__TensorProto, dtype: DType, count: Int, byteCount: Int, what: String) throws -> TensorStorage {
        func check(_ available: Int, _ field: String) throws {
            guard available == count else {
                throw fail("\(what): \(field) has \(available) values but dims need \(count)")
            }
        }
        let storage = TensorStorage(zeroedByteCount: byteCount)
        guard let out = storage.mutableBytes?.baseAddress else {
            if count == 0 { return storage }
            throw fail("\(what) has no data")
        }
        switch dtype {
        case .float, .complex64:
            try check(dtype == .complex64 ? proto.n_float_data / 2 : proto.n_float_data, "float_data")
            if let source = proto.float_data { out.copyMemory(from: source, byteCount: byteCount) }
        case .double, .complex128:
            try check(proto.n_double_data / (dtype == .complex128 ? 2 : 1), "double_data")
            if let source = proto.double_data { out.copyMemory(from: source, byteCount: byteCount) }
        case .int64:
            try check(proto.n_int64_data, "int64_data")
            if let source = proto.int64_data { out.copyMemory(from: source, byteCount: byteCount) }
        case .uint32, .uint64:
            try check(proto.n_uint64_data, "uint64_data")
            let values = buffer(proto.uint64_data, proto.n_uint64_data)
            for (i, v) in values.enumerated() {
                if dtype == .uint32 { out.storeBytes(of: UInt32(truncatingIfNeeded: v), toByteOffset: i * 4, as: UInt32.self) }
                else { out.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }
            }
        case .int32, .int16, .uint16, .int8, .uint8, .bool, .float16, .bfloat16,
             .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            try check(proto.n_int32_data, "int32_data")
            let size = dtype.byteSize ?? 4
            for (i, v) in buffer(proto.int32_data, proto.n_int32_data).enumerated() {
                switch size {
                case 1: out.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
                case 2: out.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: i * 2, as: UInt16.self)
                default: out.storeBytes(of: v, toByteOffset: i * 4, as: Int32.self)
                }
            }
        case .string, .uint4, .int4, .float4e2m1:
            throw fail("\(what) has data type \(dtype.name), which cleave does not support")
        }
        return storage
    }

    // MARK: protobuf-c helpers

    func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard let base = data.data, data.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    func buffer<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> UnsafeBufferPointer<T> {
        UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
    }

    /// A submessage packed to bytes, as an opaque length-delimited field.
    func opaqueRepeated<T>(field: UInt32, _ items: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [OpaqueField] {
        buffer(items, count).compactMap { item in
            item.map { lengthDelimited(field: field, bytes: pack(UnsafeRawPointer($0).assumingMemoryBound(to: ProtobufCMessage.self))) }
        }
    }

    func pack(_ message: UnsafePointer<ProtobufCMessage>) -> [UInt8] {
        let size = protobuf_c_message_get_packed_size(message)
        var out = [UInt8](repeating: 0, count: size)
        out.withUnsafeMutableBufferPointer { _ = protobuf_c_message_pack(message, $0.baseAddress) }
        return out
    }

    func lengthDelimited(field: UInt32, bytes: [UInt8]) -> OpaqueField {
        var payload: [UInt8] = []
        payload.appendVarint(UInt64(bytes.count))
        payload.append(contentsOf: bytes)
        return OpaqueField(fieldNumber: field, wireType: 2, bytes: payload)
    }

    func unknownFields(_ base: ProtobufCMessage) -> [OpaqueField] {
        buffer(base.unknown_fields, Int(base.n_unknown_fields)).map { field in
            OpaqueField(fieldNumber: field.tag, wireType: UInt8(field.wire_type.rawValue),
                        bytes: field.data.map { Array(UnsafeBufferPointer(start: $0, count: field.len)) } ?? [])
        }
    }
}
