import CProtobufC
import ONNXProto

/// Writes a `Graph` as an ONNX file through protobuf-c.
///
/// Tensor payloads are not copied: each TensorProto's raw_data points at the
/// tensor's storage (often the mapped source file), and protobuf-c streams the
/// message into the file through `cleave_fd_buffer`, which hands large
/// payloads straight to write(2).
public enum ONNXExporter {
    /// Where initializer bytes go.
    public enum Weights {
        /// Inline, as raw_data.
        case embedded
        /// As ONNX external data in the file `location` (relative to the model),
        /// at the byte offset given per initializer name. The caller writes that file.
        case external(location: String, offsets: [String: Int])
    }

    /// Writes `graph` to `path` atomically (temporary sibling, fsync, rename).
    public static func write(_ graph: Graph, to path: String, weights: Weights = .embedded) throws {
        let arena = CArena()
        var model = try ProtoBuilder(arena: arena, weights: weights).model(graph)
        try AtomicFile.write(to: path) { fd in
            var buffer = cleave_fd_buffer()
            guard cleave_fd_buffer_init(&buffer, fd, 1 << 20) == 0 else { throw CleaveError.io("\(path): out of memory") }
            defer { cleave_fd_buffer_destroy(&buffer) }
            _ = onnx__model_proto__pack_to_buffer(&model, cleave_fd_buffer_base(&buffer))
            cleave_fd_buffer_flush(&buffer)
            if buffer.error != 0 {
                throw CleaveError.io("\(path): write failed: \(String(cString: strerror(buffer.error)))")
            }
        }
    }
}

/// Owns the C memory of a protobuf-c message tree being built; frees it all at once.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cleanups: [() -> Void] = []

    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(count, 1))
        blocks.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A message initialised by its protobuf-c `__init` function.
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self, count: 1)
        initialize(pointer)
        return pointer
    }

    /// A NUL-terminated copy of `string`, or nil for "" (protobuf-c then omits the field).
    func string(_ string: String) -> UnsafeMutablePointer<CChar>? {
        guard !string.isEmpty else { return nil }
        let utf8 = Array(string.utf8)
        let pointer = allocate(CChar.self, count: utf8.count + 1)
        for (i, byte) in utf8.enumerated() { pointer[i] = CChar(bitPattern: byte) }
        pointer[utf8.count] = 0
        return pointer
    }

    func array<T>(_ items: [T]) -> (count: Int, pointer: UnsafeMutablePointer<T>?) {
        guard !items.isEmpty else { return (0, nil) }
        let pointer = allocate(T.self, count: items.count)
        pointer.initialize(from: items, count: items.count)
        return (items.count, pointer)
    }

    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        let (count, pointer) = array(bytes)
        return ProtobufCBinaryData(len: count, data: pointer)
    }

    func onDeinit(_ cleanup: @escaping () -> Void) { cleanups.append(cleanup) }

    deinit {
        cleanups.forEach { $0() }
        blocks.forEach { $0.deallocate() }
    }
}

/// Builds protobuf-c structs from IR values.
struct ProtoBuilder {
    let arena: CArena
    let weights: ONNXExporter.Weights

    func model(_ graph: Graph) throws -> Onnx__ModelProto {
        var model = Onnx__ModelProto()
        onnx__model_proto__init(&model)
        let info = graph.model
        model.has_ir_version = 1
        model.ir_version = Int64(info.irVersion)
        let opsets = info.opsets.map { opset in
            message(onnx__operator_set_id_proto__init) { (m: UnsafeMutablePointer<Onnx__OperatorSetIdProto>) in
                m.pointee.domain = arena.string(opset.domain) ?? emptyString()
                m.pointee.has_version = 1
                m.pointee.version = Int64(opset.version)
            }
        }
        (model.n_opset_import, model.opset_import) = optionalArray(opsets)
        model.producer_name = arena.string(info.producerName)
        model.producer_version = arena.string(info.producerVersion)
        model.domain = arena.string(info.domain)
        if info.modelVersion != 0 {
            model.has_model_version = 1
            model.model_version = Int64(info.modelVersion)
        }
        model.doc_string = arena.string(info.docString)
        (model.n_metadata_props, model.metadata_props) = optionalArray(info.metadata.map { entry($0.key, $0.value) })
        model.graph = try graphProto(graph)
        attachOpaque(info.opaqueFields, to: &model.base)
        return model
    }

    func graphProto(_ graph: Graph) throws -> UnsafeMutablePointer<Onnx__GraphProto> {
        let proto: UnsafeMutablePointer<Onnx__GraphProto> = message(onnx__graph_proto__init) { _ in }
        proto.pointee.name = arena.string(graph.name)
        proto.pointee.doc_string = arena.string(graph.docString)
        (proto.pointee.n_node, proto.pointee.node) = optionalArray(try graph.nodes.map { try node($0) })
        (proto.pointee.n_initializer, proto.pointee.initializer) = optionalArray(graph.initializers.map { initializer in
            tensor(initializer.tensor, name: initializer.name, docString: initializer.docString,
                   externalOffset: externalOffset(initializer.name))
        })
        (proto.pointee.n_input, proto.pointee.input) = optionalArray(graph.inputs.map(valueInfo))
        (proto.pointee.n_output, proto.pointee.output) = optionalArray(graph.outputs.map(valueInfo))
        (proto.pointee.n_value_info, proto.pointee.value_info) = optionalArray(graph.valueInfo.map(valueInfo))
        attachOpaque(graph.opaqueFields, to: &proto.pointee.base)
        return proto
    }

    func externalOffset(_ name: String) -> (location: String, offset: Int)? {
        guard case .external(let location, let offsets) = weights, let offset = offsets[name] else { return nil }
        return (location, offset)
    }

    func node(_ node: Node) throws -> UnsafeMutablePointer<Onnx__NodeProto> {
        let proto: UnsafeMutablePointer<Onnx__NodeProto> = message(onnx__node_proto__init) { _ in }
        (proto.pointee.n_input, proto.pointee.input) = optionalArray(node.inputs.map { arena.string($0) ?? emptyString() })
        (proto.pointee.n_output, proto.pointee.output) = optionalArray(node.outputs.map { arena.string($0) ?? emptyString() })
        proto.pointee.name = arena.string(node.name)
        proto.pointee.op_type = arena.string(node.opType)
        proto.pointee.domain = arena.string(node.domain)
        proto.pointee.doc_string = arena.string(node.docString)
        (proto.pointee.n_attribute, proto.pointee.attribute) = optionalArray(try node.attributes.map { try attribute($0, node: node) })
        attachOpaque(node.opaqueFields, to: &proto.pointee.base)
        return proto
    }

    func attribute(_ attribute: Attribute, node: Node) throws -> UnsafeMutablePointer<Onnx__AttributeProto> {
        if case .opaque(let packed) = attribute.value {
            guard let proto = packed.withUnsafeBufferPointer({ onnx__attribute_proto__unpack(nil, $0.count, $0.baseAddress) }) else {
                throw CleaveError.badInput("attribute '\(attribute.name)' of node '\(node.name)' cannot be re-encoded")
            }
            arena.onDeinit { onnx__attribute_proto__free_unpacked(proto, nil) }
            return proto
        }
        let proto: UnsafeMutablePointer<Onnx__AttributeProto> = message(onnx__attribute_proto__init) { _ in }
        proto.pointee.name = arena.string(attribute.name)
        proto.pointee.doc_string = arena.string(attribute.docString)
        proto.pointee.has_type = 1
        switch attribute.value {
        case .float(let v):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            proto.pointee.has_f = 1
            proto.pointee.f = v
        case .int(let v):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            proto.pointee.has_i = 1
            proto.pointee.i = Int64(v)
        case .string(let v):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING
            proto.pointee.has_s = 1
            proto.pointee.s = arena.bytes(v)
        case .tensor(let t):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR
            proto.pointee.t = tensor(t, name: "", docString: "", externalOffset: nil)
        case .floats(let v):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
            (proto.pointee.n_floats, proto.pointee.floats) = arena.array(v)
        case .ints(let v):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            (proto.pointee.n_ints, proto.pointee.ints) = arena.array(v.map { Int64($0) })
        case .strings(let v):
            proto.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS
            (proto.pointee.n_strings, proto.pointee.strings) = arena.array(v.map { arena.bytes($0) })
        case .opaque:
            break  // handled above
        }
        return proto
    }

    /// A TensorProto whose raw_data points at the tensor's bytes (no copy), or
    /// that refers to external data at `externalOffset`.
    func tensor(_ tensor: Tensor, name: String, docString: String,
                externalOffset: (location: String, offset: Int)?) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let proto: UnsafeMutablePointer<Onnx__TensorProto> = message(onnx__tensor_proto__init) { _ in }
        (proto.pointee.n_dims, proto.pointee.dims) = arena.array(tensor.shape.dims.map { Int64($0) })
        proto.pointee.has_data_type = 1
        proto.pointee.data_type = tensor.dtype.rawValue
        proto.pointee.name = arena.string(name)
        proto.pointee.doc_string = arena.string(docString)
        if let externalOffset {
            proto.pointee.has_data_location = 1
            proto.pointee.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL
            (proto.pointee.n_external_data, proto.pointee.external_data) = optionalArray([
                entry("location", externalOffset.location),
                entry("offset", String(externalOffset.offset)),
                entry("length", String(tensor.byteCount)),
            ])
        } else {
            proto.pointee.has_raw_data = 1
            let bytes = tensor.storage.bytes
            proto.pointee.raw_data = ProtobufCBinaryData(
                len: bytes.count,
                data: bytes.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) })
        }
        return proto
    }

    func valueInfo(_ info: ValueInfo) -> UnsafeMutablePointer<Onnx__ValueInfoProto>? {
        let proto: UnsafeMutablePointer<Onnx__ValueInfoProto> = message(onnx__value_info_proto__init) { _ in }
        proto.pointee.name = arena.string(info.name)
        proto.pointee.doc_string = arena.string(info.docString)
        guard info.dtype != nil || info.dims != nil else { return proto }
        let tensorType: UnsafeMutablePointer<Onnx__TypeProto__Tensor> = message(onnx__type_proto__tensor__init) { _ in }
        if let dtype = info.dtype {
            tensorType.pointee.has_elem_type = 1
            tensorType.pointee.elem_type = dtype.rawValue
        }
        if let dims = info.dims {
            let shape: UnsafeMutablePointer<Onnx__TensorShapeProto> = message(onnx__tensor_shape_proto__init) { _ in }
            let dimProtos = dims.map { dim -> UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension>? in
                message(onnx__tensor_shape_proto__dimension__init) { (d: UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension>) in
                    switch dim {
                    case .fixed(let v):
                        d.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                        d.pointee.dim_value = Int64(v)
                    case .symbolic(let name):
                        d.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                        d.pointee.dim_param = arena.string(name)
                    case .unknown:
                        break
                    }
                }
            }
            (shape.pointee.n_dim, shape.pointee.dim) = optionalArray(dimProtos)
            tensorType.pointee.shape = shape
        }
        let type: UnsafeMutablePointer<Onnx__TypeProto> = message(onnx__type_proto__init) { _ in }
        type.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        type.pointee.tensor_type = tensorType
        proto.pointee.type = type
        return proto
    }

    func entry(_ key: String, _ value: String) -> UnsafeMutablePointer<Onnx__StringStringEntryProto>? {
        message(onnx__string_string_entry_proto__init) { (e: UnsafeMutablePointer<Onnx__StringStringEntryProto>) in
            e.pointee.key = arena.string(key) ?? emptyString()
            e.pointee.value = arena.string(value) ?? emptyString()
        }
    }

    // MARK: helpers

    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void, _ fill: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = arena.message(initialize)
        fill(pointer)
        return pointer
    }

    func optionalArray<T>(_ items: [UnsafeMutablePointer<T>?]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) {
        arena.array(items)
    }

    func optionalArray<T>(_ items: [UnsafeMutablePointer<T>]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) {
        arena.array(items.map { Optional($0) })
    }

    /// A present-but-empty string (for fields like a node's empty input name,
    /// which must be written to keep input positions).
    func emptyString() -> UnsafeMutablePointer<CChar> {
        let pointer = arena.allocate(CChar.self, count: 1)
        pointer[0] = 0
        return pointer
    }

    func attachOpaque(_ fields: [OpaqueField], to base: inout ProtobufCMessage) {
        guard !fields.isEmpty else { return }
        let unknown = fields.map { field in
            let (count, pointer) = arena.array(field.bytes)
            return ProtobufCMessageUnknownField(
                tag: field.fieldNumber, wire_type: ProtobufCWireType(rawValue: UInt32(field.wireType)),
                len: count, data: pointer)
        }
        (_, base.unknown_fields) = arena.array(unknown)
        base.n_unknown_fields = UInt32(unknown.count)
    }
}
