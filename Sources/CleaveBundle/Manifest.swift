import CleaveIR

/// The contents of a bundle's manifest.json (schemas/BUNDLE.md §2).
public struct Manifest: Sendable, Equatable {
    public static let format = "cleave-bundle"
    /// The newest version this cleave reads and writes: 2 adds `cuts` (several
    /// cuts in one pair); a single-cut pair is still written as version 1.
    public static let formatVersion = 2
    public static let readableVersions: ClosedRange<Int> = 1...2

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

    /// One cut of a version-2 bundle (§7): this half's model for it and what crosses.
    public struct Cut: Sendable, Equatable {
        /// `[A-Za-z0-9_-]+`, the same in both halves; the served model of a cut is `NAME.<id>`.
        public var id: String
        /// This half's model file for the cut; nil when this side runs nothing (the cloud side of edge-only).
        public var model: String?
        public var inputs: [TensorSpec]
        public var outputs: [TensorSpec]
        public var boundary: [BoundaryTensor]
        public var finalOutputs: [String]
        /// Where the cut is optimal and its predicted stages (free-form, like `plan`).
        public var plan: JSON?

        public init(id: String, model: String?, inputs: [TensorSpec], outputs: [TensorSpec], boundary: [BoundaryTensor],
                    finalOutputs: [String], plan: JSON?) {
            self.id = id
            self.model = model
            self.inputs = inputs
            self.outputs = outputs
            self.boundary = boundary
            self.finalOutputs = finalOutputs
            self.plan = plan
        }

        /// The model file a cut's half is written to: the default cut's is model.onnx.
        public static func modelFile(id: String, isDefault: Bool) -> String { isDefault ? "model.onnx" : "model.\(id).onnx" }

        public static func isValidID(_ id: String) -> Bool {
            !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        }
    }

    public struct FileEntry: Sendable, Equatable {
        public var path: String
        public var size: Int
        public var sha256: String
    }

    /// 1, or 2 when the bundle holds several cuts.
    public var version: Int
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
    /// Version 2: every cut of the pair (the top-level inputs, outputs, boundary
    /// and final outputs are the default cut's, whose model is model.onnx); empty in version 1.
    public var cuts: [Cut]
    /// Version 2: the id of the cut a client that names none gets.
    public var defaultCut: String?
    /// Every file except manifest.json and manifest.sig, sorted by path.
    public var files: [FileEntry]
    public var producerName: String
    public var producerVersion: String

    /// The cut named `id`, or with nil the default one: in version 1 the bundle's only
    /// cut, its top level described as one.
    public func cut(_ id: String?) -> Cut? {
        if version >= 2 { return cuts.first { $0.id == (id ?? defaultCut) } }
        return id == nil ? Cut(id: "default", model: "model.onnx", inputs: inputs, outputs: outputs,
                               boundary: boundary, finalOutputs: finalOutputs, plan: nil) : nil
    }

    /// Every cut the bundle holds: version 2's `cuts`, or version 1's only one.
    public var everyCut: [Cut] { version >= 2 ? cuts : [cut(nil)].compactMap { $0 } }

    /// This manifest as a single-cut one for `cut`: its inputs, outputs, boundary and final outputs at top level.
    public func viewing(_ cut: Cut) -> Manifest {
        var view = self
        view.inputs = cut.inputs
        view.outputs = cut.outputs
        view.boundary = cut.boundary
        view.finalOutputs = cut.finalOutputs
        return view
    }

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
        func boundaryJSON(_ b: BoundaryTensor) -> JSON {
            guard case .object(var m) = spec(b.tensor) else { return .null }
            m.append(("codec", .string(b.codec)))
            return .object(m)
        }
        var members: [(String, JSON)] = [
            ("format", .string(Manifest.format)),
            ("version", .int(version)),
            ("role", .string(role.rawValue)),
            ("pair_id", .string(pairID)),
            ("source", .object([("name", .string(sourceName)), ("sha256", .string(sourceSHA256))])),
            ("opsets", .array(opsets.map { .object([("domain", .string($0.domain)), ("version", .int($0.version))]) })),
            ("inputs", .array(inputs.map(spec))),
            ("outputs", .array(outputs.map(spec))),
            ("boundary", .array(boundary.map(boundaryJSON))),
            ("final_outputs", .array(finalOutputs.map { .string($0) })),
        ]
        if let plan { members.append(("plan", plan)) }
        if version >= 2 {
            members.append(("default_cut", defaultCut.map { .string($0) } ?? .null))
            members.append(("cuts", .array(cuts.map { cut in
                var m: [(String, JSON)] = [
                    ("id", .string(cut.id)), ("model", cut.model.map { .string($0) } ?? .null),
                    ("inputs", .array(cut.inputs.map(spec))), ("outputs", .array(cut.outputs.map(spec))),
                    ("boundary", .array(cut.boundary.map(boundaryJSON))),
                    ("final_outputs", .array(cut.finalOutputs.map { .string($0) })),
                ]
                if let plan = cut.plan { m.append(("plan", plan)) }
                return .object(m)
            })))
        }
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
        var known: Set<String> = ["format", "version", "role", "pair_id", "source", "opsets", "inputs", "outputs",
                                  "boundary", "final_outputs", "plan", "files", "producer", "manifest_sha256"]
        if case .int(let v)? = json["version"], v >= 2 { known.formUnion(["cuts", "default_cut"]) }
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
        func array(_ key: String, in object: JSON? = nil, _ what: String? = nil) throws -> [JSON] {
            let value = object.map { $0[key] } ?? json[key]
            guard let value else { throw fail("missing field '\(what ?? key)' (§2.2)") }
            guard let a = value.arrayValue else { throw fail("'\(what ?? key)' must be an array (§2.2)") }
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
        guard Manifest.readableVersions.contains(version) else {
            throw fail("format version \(version) is not supported (this cleave reads versions \(Manifest.readableVersions.lowerBound)–\(Manifest.readableVersions.upperBound)) (§6)")
        }
        self.version = version
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
        func boundaryList(_ list: [JSON], _ what: String) throws -> [BoundaryTensor] {
            try list.enumerated().map { i, b in
                let codec = try string(b["codec"], "\(what)[\(i)].codec")
                guard ["none", "int8"].contains(codec) else { throw fail("'\(what)[\(i)].codec' must be \"none\" or \"int8\" (§2.2)") }
                return BoundaryTensor(tensor: try spec(b, "\(what)[\(i)]"), codec: codec)
            }
        }
        boundary = try boundaryList(try array("boundary"), "boundary")
        finalOutputs = try array("final_outputs").enumerated().map { try string($1, "final_outputs[\($0)]") }
        plan = json["plan"]

        // §7: the cuts of a version-2 bundle.
        var cuts: [Cut] = []
        if version >= 2 {
            for (i, c) in try array("cuts").enumerated() {
                let what = "cuts[\(i)]"
                let allowed: Set<String> = ["id", "model", "inputs", "outputs", "boundary", "final_outputs", "plan"]
                guard let object = c.objectValue else { throw fail("'\(what)' must be an object (§7)") }
                if let extra = object.first(where: { !allowed.contains($0.0) }) { throw fail("unknown field '\(what).\(extra.0)' (§2.4)") }
                let id = try string(c["id"], "\(what).id")
                guard Cut.isValidID(id) else { throw fail("'\(what).id' must be 1-64 letters, digits, '_' or '-' (§7)") }
                var model: String?
                if let m = c["model"], m != .null { model = try string(m, "\(what).model") }
                cuts.append(Cut(
                    id: id, model: model,
                    inputs: try array("inputs", in: c, "\(what).inputs").enumerated().map { try spec($1, "\(what).inputs[\($0)]") },
                    outputs: try array("outputs", in: c, "\(what).outputs").enumerated().map { try spec($1, "\(what).outputs[\($0)]") },
                    boundary: try boundaryList(try array("boundary", in: c, "\(what).boundary"), "boundary"),
                    finalOutputs: try array("final_outputs", in: c, "\(what).final_outputs").enumerated().map { try string($1, "\(what).final_outputs[\($0)]") },
                    plan: c["plan"]))
            }
            guard !cuts.isEmpty else { throw fail("'cuts' is empty; a version-2 bundle lists every cut (§7)") }
            guard Set(cuts.map(\.id)).count == cuts.count else { throw fail("'cuts' has two cuts with the same id (§7)") }
            let defaultID = try string(field("default_cut"), "default_cut")
            guard let defaultEntry = cuts.first(where: { $0.id == defaultID }) else { throw fail("'default_cut' \(defaultID) is not one of the cuts (§7)") }
            guard defaultEntry.model == "model.onnx", defaultEntry.inputs == inputs, defaultEntry.outputs == outputs,
                  defaultEntry.boundary == boundary, defaultEntry.finalOutputs == finalOutputs else {
                throw fail("the default cut \(defaultID) must be model.onnx and repeat the top-level inputs, outputs, boundary and final outputs (§7)")
            }
            for cut in cuts where cut.id != defaultID {
                if let model = cut.model, model != Cut.modelFile(id: cut.id, isDefault: false) {
                    throw fail("cut \(cut.id): its model must be \(Cut.modelFile(id: cut.id, isDefault: false)), not \(model) (§7)")
                }
            }
            defaultCut = defaultID
        } else {
            defaultCut = nil
        }
        self.cuts = cuts
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
                plan: JSON?, cuts: [Cut] = [], defaultCut: String? = nil, files: [FileEntry],
                producerName: String = "cleave", producerVersion: String = cleaveVersion) {
        self.version = cuts.isEmpty ? 1 : 2
        self.cuts = cuts
        self.defaultCut = defaultCut
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
