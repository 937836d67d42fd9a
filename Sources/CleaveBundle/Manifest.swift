import CleaveIR

/// The contents of a bundle's manifest.json (schemas/BUNDLE.md §2).
public struct Manifest: Sendable, Equatable {
    public static let format = "cleave-bundle"
    public static let formatVersion = 1

    public struct TensorSpec: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: Shape
        public init(name: String, dtype: DType, shape: Shape) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
        public var type: TensorType { TensorType(dtype, shape) }
    }

    public struct BoundaryTensor: Sendable, Equatable {
        public var tensor: TensorSpec
        /// How the tensor travels: "none" (raw) or "int8".
        public var codec: String
    }

    public struct FileEntry: Sendable, Equatable {
        public var path: String
        public var size: Int
        public var sha256: String
    }

    public var role: Partition.Side
    public var pairID: String
    public var sourceName: String
    public var sourceSHA256: String
    public var opsets: [OperatorSet]
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]
    public var boundary: [BoundaryTensor]
    /// Which of this half's outputs are outputs of the whole model.
    public var finalOutputs: [String]
    /// How the cut was chosen, when a plan was made.
    public var plan: JSON?
    /// Every file except manifest.json and manifest.sig, sorted by path.
    public var files: [FileEntry]
    public var producerName: String
    public var producerVersion: String

    // MARK: JSON

    /// The manifest as written, ending with its own digest (§2.3).
    public var json: JSON {
        let body = jsonWithoutDigest
        guard case .object(var members) = body else { return body }
        members.append(("manifest_sha256", .string(SHA256Digest.hex(of: Array(body.canonicalSerialization().utf8)))))
        return .object(members)
    }

    var jsonWithoutDigest: JSON {
        func spec(_ t: TensorSpec) -> JSON {
            .object([("name", .string(t.name)), ("dtype", .string(t.dtype.name)), ("shape", .array(t.shape.dims.map { .int($0) }))])
        }
        var members: [(String, JSON)] = [
            ("format", .string(Manifest.format)),
            ("version", .int(Manifest.formatVersion)),
            ("role", .string(role.rawValue)),
            ("pair_id", .string(pairID)),
            ("source", .object([("name", .string(sourceName)), ("sha256", .string(sourceSHA256))])),
            ("opsets", .array(opsets.map { .object([("domain", .string($0.domain)), ("version", .int($0.version))]) })),
            ("inputs", .array(inputs.map(spec))),
            ("outputs", .array(outputs.map(spec))),
            ("boundary", .array(boundary.map { b in
                guard case .object(var m) = spec(b.tensor) else { return .null }
                m.append(("codec", .string(b.codec)))
                return .object(m)
            })),
            ("final_outputs", .array(finalOutputs.map { .string($0) })),
        ]
        if let plan { members.append(("plan", plan)) }
        members += [
            ("files", .array(files.map { .object([("path", .string($0.path)), ("size", .int($0.size)), ("sha256", .string($0.sha256))]) })),
            ("producer", .object([("name", .string(producerName)), ("version", .string(producerVersion))])),
        ]
        return .object(members)
    }

    /// Reads a manifest, checking every field's presence and type, the format,
    /// the version and the digest. Unknown fields are refused (§2.4).
    /// - Throws: `CleaveError.badInput` naming the field and the rule.
    public init(json: JSON) throws {
        func fail(_ message: String) -> CleaveError { .badInput("manifest.json: \(message)") }
        guard let members = json.objectValue else { throw fail("is not a JSON object (§2.1)") }
        let known: Set<String> = ["format", "version", "role", "pair_id", "source", "opsets", "inputs", "outputs",
                                  "boundary", "final_outputs", "plan", "files", "producer", "manifest_sha256"]
        if let unknown = members.first(where: { !known.contains($0.0) }) {
            throw fail("unknown field '\(unknown.0)' (§2.4)")
        }
        func field(_ key: String) throws -> JSON {
            guard let value = json[key] else { throw fail("missing field '\(key)' (§2.2)") }
            return value
        }
        func string(_ value: JSON?, _ what: String) throws -> String {
            guard let s = value?.stringValue else { throw fail("'\(what)' must be a string (§2.2)") }
            return s
        }
        func int(_ value: JSON?, _ what: String) throws -> Int {
            guard case .int(let v)? = value else { throw fail("'\(what)' must be an integer (§2.2)") }
            return v
        }
        func array(_ key: String) throws -> [JSON] {
            guard let a = try field(key).arrayValue else { throw fail("'\(key)' must be an array (§2.2)") }
            return a
        }
        func hex(_ value: JSON?, _ what: String) throws -> String {
            let s = try string(value, what)
            guard s.utf8.count == 64, s.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw fail("'\(what)' must be 64 lowercase hex digits (§2.2)")
            }
            return s
        }
        func spec(_ value: JSON, _ what: String) throws -> TensorSpec {
            let name = try string(value["name"], "\(what).name")
            let dtypeName = try string(value["dtype"], "\(what).dtype")
            guard let dtype = DType(name: dtypeName), dtype.byteSize != nil else { throw fail("'\(what)' has unknown dtype '\(dtypeName)' (§2.2)") }
            guard let dims = value["shape"]?.arrayValue else { throw fail("'\(what).shape' must be an array (§2.2)") }
            var shape: [Int] = []
            for d in dims {
                guard case .int(let v) = d, v >= 0 else { throw fail("'\(what).shape' must hold non-negative integers (§2.2)") }
                shape.append(v)
            }
            guard Shape.checkedElementCount(shape) != nil else { throw fail("'\(what).shape' overflows (§2.2)") }
            let allowed: Set<String> = what.hasPrefix("boundary") ? ["name", "dtype", "shape", "codec"] : ["name", "dtype", "shape"]
            if let extra = value.objectValue?.first(where: { !allowed.contains($0.0) }) {
                throw fail("unknown field '\(what).\(extra.0)' (§2.4)")
            }
            return TensorSpec(name: name, dtype: dtype, shape: Shape(shape))
        }

        guard try string(field("format"), "format") == Manifest.format else { throw fail("'format' is not \"\(Manifest.format)\" (§2.2)") }
        let version = try int(field("version"), "version")
        guard version == Manifest.formatVersion else {
            throw fail("format version \(version) is not supported (this cleave reads version \(Manifest.formatVersion)) (§6)")
        }
        guard let role = Partition.Side(rawValue: try string(field("role"), "role")) else { throw fail("'role' must be \"edge\" or \"cloud\" (§2.2)") }
        self.role = role
        pairID = try hex(field("pair_id"), "pair_id")
        let source = try field("source")
        sourceName = try string(source["name"], "source.name")
        sourceSHA256 = try hex(source["sha256"], "source.sha256")
        opsets = try array("opsets").enumerated().map { i, o in
            OperatorSet(domain: try string(o["domain"], "opsets[\(i)].domain"), version: try int(o["version"], "opsets[\(i)].version"))
        }
        inputs = try array("inputs").enumerated().map { try spec($1, "inputs[\($0)]") }
        outputs = try array("outputs").enumerated().map { try spec($1, "outputs[\($0)]") }
        boundary = try array("boundary").enumerated().map { i, b in
            let codec = try string(b["codec"], "boundary[\(i)].codec")
            guard ["none", "int8"].contains(codec) else { throw fail("'boundary[\(i)].codec' must be \"none\" or \"int8\" (§2.2)") }
            return BoundaryTensor(tensor: try spec(b, "boundary[\(i)]"), codec: codec)
        }
        finalOutputs = try array("final_outputs").enumerated().map { try string($1, "final_outputs[\($0)]") }
        plan = json["plan"]
        files = try array("files").enumerated().map { i, f in
            let size = try int(f["size"], "files[\(i)].size")
            guard size >= 0 else { throw fail("'files[\(i)].size' is negative (§2.2)") }
            return FileEntry(path: try string(f["path"], "files[\(i)].path"), size: size, sha256: try hex(f["sha256"], "files[\(i)].sha256"))
        }
        let producer = try field("producer")
        producerName = try string(producer["name"], "producer.name")
        producerVersion = try string(producer["version"], "producer.version")

        let digest = try hex(field("manifest_sha256"), "manifest_sha256")
        let expected = SHA256Digest.hex(of: Array(json.removing("manifest_sha256").canonicalSerialization().utf8))
        guard digest == expected else { throw fail("manifest_sha256 does not match the manifest's content: the manifest was altered (§2.3)") }
    }

    public init(role: Partition.Side, pairID: String, sourceName: String, sourceSHA256: String, opsets: [OperatorSet],
                inputs: [TensorSpec], outputs: [TensorSpec], boundary: [BoundaryTensor], finalOutputs: [String],
                plan: JSON?, files: [FileEntry], producerName: String = "cleave", producerVersion: String = cleaveVersion) {
        self.role = role
        self.pairID = pairID
        self.sourceName = sourceName
        self.sourceSHA256 = sourceSHA256
        self.opsets = opsets
        self.inputs = inputs
        self.outputs = outputs
        self.boundary = boundary
        self.finalOutputs = finalOutputs
        self.plan = plan
        self.files = files
        self.producerName = producerName
        self.producerVersion = producerVersion
    }
}

/// The version cleave writes into the bundles it produces.
public let cleaveVersion = "0.1.0"
