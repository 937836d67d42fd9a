/// A model as cleave sees it: nodes in topological order over named values.
///
/// Built by `ONNXImporter`, validated on construction there; passes that change
/// it (cut, compress) produce new graphs and call `validate()` again.
public struct Graph: Sendable {
    /// Model-level facts that a round trip must keep.
    public var model: ModelInfo
    public var name: String
    public var docString: String = ""
    /// Declared inputs, in order. For IR 3 models this includes initializers
    /// (see `runtimeInputs`).
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Declared intermediate types (`value_info`), kept for round trips.
    public var valueInfo: [ValueInfo] = []
    /// Weights by name, in file order.
    public var initializers: [Initializer]
    public var nodes: [Node]
    /// Fields cleave does not model, written back unchanged.
    public var opaqueFields: [OpaqueField] = []

    public init(model: ModelInfo, name: String, inputs: [ValueInfo], outputs: [ValueInfo],
                initializers: [Initializer], nodes: [Node]) {
        self.model = model
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.nodes = nodes
    }

    /// The ai.onnx opset the graph was written against.
    public var opsetVersion: Int { model.opsetVersion }

    /// Inputs a caller must feed: declared inputs that no initializer provides.
    public var runtimeInputs: [ValueInfo] {
        let weights = Set(initializers.map(\.name))
        return inputs.filter { !weights.contains($0.name) }
    }

    /// Every tensor known before running anything: initializers and the
    /// outputs of Constant nodes (where exporters like PaddlePaddle keep weights).
    public var constants: [String: Tensor] {
        var table: [String: Tensor] = [:]
        for initializer in initializers { table[initializer.name] = initializer.tensor }
        for node in nodes where node.opType == "Constant" && node.domain.isEmpty {
            if let output = node.outputs.first, let tensor = node.constantValue { table[output] = tensor }
        }
        return table
    }
}

/// Model-level fields of an ONNX ModelProto.
public struct ModelInfo: Sendable {
    public var irVersion: Int
    /// Operator sets by domain ("" is ai.onnx).
    public var opsets: [OperatorSet]
    public var producerName: String = ""
    public var producerVersion: String = ""
    public var domain: String = ""
    public var modelVersion: Int = 0
    public var docString: String = ""
    public var metadata: [(key: String, value: String)] = []
    public var opaqueFields: [OpaqueField] = []

    public init(irVersion: Int, opsets: [OperatorSet]) {
        self.irVersion = irVersion
        self.opsets = opsets
    }

    /// The version of the default (ai.onnx) operator set.
    public var opsetVersion: Int {
        opsets.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" })?.version ?? 0
    }
}

public struct OperatorSet: Hashable, Sendable {
    public var domain: String
    public var version: Int
    public init(domain: String, version: Int) {
        self.domain = domain
        self.version = version
    }
}

/// A named weight.
public struct Initializer: Sendable {
    public var name: String
    public var tensor: Tensor
    public var docString: String = ""
    /// Where the importer found the bytes when they were ONNX external data
    /// (the exporter decides placement afresh; verifiers check this).
    public var externalData: ExternalDataReference?
    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// One operator application.
public struct Node: Sendable {
    public var name: String
    /// The ONNX op_type as written in the file.
    public var opType: String
    /// "" for the default ai.onnx domain.
    public var domain: String
    /// Input value names; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public var docString: String = ""
    /// Fields cleave does not model (metadata_props, overload, …), written back unchanged.
    public var opaqueFields: [OpaqueField] = []

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [Attribute] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The operator if it is one cleave supports (default domain only).
    public var op: Op? {
        guard domain.isEmpty || domain == "ai.onnx" else { return nil }
        return Op(rawValue: opType)
    }

    public func attribute(_ name: String) -> AttributeValue? {
        attributes.first(where: { $0.name == name })?.value
    }

    public func int(_ name: String) -> Int? {
        if case .int(let v)? = attribute(name) { return v }
        return nil
    }

    public func float(_ name: String) -> Float? {
        if case .float(let v)? = attribute(name) { return v }
        return nil
    }

    public func ints(_ name: String) -> [Int]? {
        if case .ints(let v)? = attribute(name) { return v }
        return nil
    }

    public func floats(_ name: String) -> [Float]? {
        if case .floats(let v)? = attribute(name) { return v }
        return nil
    }

    public func string(_ name: String) -> String? {
        if case .string(let bytes)? = attribute(name) { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    public func tensor(_ name: String) -> Tensor? {
        if case .tensor(let v)? = attribute(name) { return v }
        return nil
    }

    /// Input `index` if present and not omitted.
    public func input(_ index: Int) -> String? {
        index < inputs.count && !inputs[index].isEmpty ? inputs[index] : nil
    }

    /// The value of a Constant node, from whichever attribute form it uses
    /// (value, value_float(s), value_int(s)); nil for other nodes.
    public var constantValue: Tensor? {
        guard opType == "Constant" else { return nil }
        if let t = tensor("value") { return t }
        if let v = float("value_float") { return Tensor(.float, [], [v]) }
        if let v = floats("value_floats") { return Tensor(.float, [v.count], v) }
        if let v = int("value_int") { return Tensor(.int64, [], [Int64(v)]) }
        if let v = ints("value_ints") { return Tensor(.int64, [v.count], v.map { Int64($0) }) }
        return nil
    }
}

public struct Attribute: Sendable {
    public var name: String
    public var value: AttributeValue
    public var docString: String = ""
    public init(name: String, value: AttributeValue) {
        self.name = name
        self.value = value
    }
}

public enum AttributeValue: Sendable {
    case float(Float)
    case int(Int)
    /// ONNX strings are bytes; most are ASCII names like "SAME_UPPER".
    case string([UInt8])
    case tensor(Tensor)
    case floats([Float])
    case ints([Int])
    case strings([[UInt8]])
    /// A kind cleave does not interpret (graphs, sparse tensors, type protos,
    /// lists of tensors, refs): the AttributeProto as packed bytes, written back as is.
    case opaque([UInt8])
}

/// A protobuf field kept as raw wire bytes: `bytes` is everything after the
/// field's tag (for length-delimited fields that includes the length prefix),
/// which is how protobuf-c stores and writes back unknown fields.
public struct OpaqueField: Sendable, Hashable {
    public var fieldNumber: UInt32
    public var wireType: UInt8
    public var bytes: [UInt8]
    public init(fieldNumber: UInt32, wireType: UInt8, bytes: [UInt8]) {
        self.fieldNumber = fieldNumber
        self.wireType = wireType
        self.bytes = bytes
    }
}

/// An ONNX external-data reference as read from a file.
public struct ExternalDataReference: Hashable, Sendable {
    public var location: String
    public var offset: Int
    public var length: Int
}
