import AsyncHTTPClient
import CleaveBundle
import CleaveIR
import CleaveRuntime

/// Where the time of one remote run went.
public struct RemoteBreakdown: Sendable, Equatable {
    /// Running the edge half locally.
    public var edgeMilliseconds: Double
    /// Quantising (per codec), building and compressing the request body.
    public var encodeMilliseconds: Double
    /// Request and response bodies as sent over the wire (after compression).
    public var requestBytes: Int
    public var responseBytes: Int
    /// The round trip minus the cloud's compute time, plus any emulated link delay.
    public var transferMilliseconds: Double
    /// The cloud half's run, as the server measured it (`parameters.compute_ms`).
    public var cloudMilliseconds: Double
    /// Reading the outputs out of the response.
    public var decodeMilliseconds: Double
    /// From the start of the edge run to decoded outputs.
    public var totalMilliseconds: Double

    public var wireBytes: Int { requestBytes + responseBytes }

    /// The per-field medians of several runs (upper median for an even count).
    public static func median(of runs: [RemoteBreakdown]) -> RemoteBreakdown? {
        guard !runs.isEmpty else { return nil }
        func m<T: Comparable>(_ key: KeyPath<RemoteBreakdown, T>) -> T { runs.map { $0[keyPath: key] }.sorted()[runs.count / 2] }
        return RemoteBreakdown(edgeMilliseconds: m(\.edgeMilliseconds), encodeMilliseconds: m(\.encodeMilliseconds),
                               requestBytes: m(\.requestBytes), responseBytes: m(\.responseBytes),
                               transferMilliseconds: m(\.transferMilliseconds), cloudMilliseconds: m(\.cloudMilliseconds),
                               decodeMilliseconds: m(\.decodeMilliseconds), totalMilliseconds: m(\.totalMilliseconds))
    }
}

/// How tensors travel in requests and responses.
public enum WireFormat: String, Sendable {
    /// The binary tensor data extension: raw bytes after a JSON header.
    case binary
    /// Plain JSON `data` arrays, which every v2 server reads.
    case json
}

/// Runs an edge bundle locally and its cloud half on a KServe v2 server
/// (`cleave serve`, Triton serving `cleave export-triton`'s repository,
/// KServe's Python model server, MLServer).
///
/// The boundary tensors go in the binary tensor data extension when the
/// server lists it in `GET /v2` (`cleave serve` and Triton do), as JSON
/// otherwise, encoded per `BoundaryCodec`; the outputs come back the same way.
/// With codec `none` the outputs equal a local `cleave run EDGE CLOUD` bit for
/// bit when the server runs cleave, and to float tolerance on other runtimes.
public final class RemoteRunner {
    public let edge: LoadedBundle
    public let baseURL: String
    public let modelName: String
    public let codec: BoundaryCodec
    /// The emulated link; a schedule changes it between requests.
    public var link: LinkEmulation?
    /// Emulates an edge device this many times slower than this machine: after the
    /// edge half runs, sleep (slowdown − 1) × its time (`--edge-slowdown`; 1 = off).
    public var edgeSlowdown: Double = 1
    /// How long one inference request may take before it fails with an I/O error (`--remote-timeout`).
    public var timeoutSeconds: Double = 600
    /// The model's outputs in order: the cloud's, then those computed on the edge.
    public let outputNames: [String]
    /// Binary tensor data when the server lists the extension, JSON otherwise.
    public let wire: WireFormat
    /// The pair id the served model declares (`parameters.pair_id`); nil when
    /// it declares none (Triton, KServe, MLServer), so the pair went unchecked.
    public let serverPairID: String?
    /// The served outputs' datatypes and shapes as the metadata declares them
    /// (nil where it does not say); every response is checked against them.
    private let declaredOutputs: [String: (datatype: String?, shape: [Int]?)]
    private let session: Session
    private let client: HTTPClient
    /// Largest response accepted: the declared outputs plus room for the JSON header.
    private let responseLimit: Int

    /// Loads the edge half and reads the server's metadata for the cloud half.
    /// - Parameters:
    ///   - url: `http://HOST:PORT` of the server.
    ///   - modelName: the served name; by default the one `cleave serve` gives the pair.
    ///   - wire: binary or JSON tensor data; nil negotiates it from `GET /v2`.
    /// - Throws: `CleaveError.badInput` when the bundle is not an edge half, the
    ///   server's metadata is malformed, or its model does not take the boundary
    ///   (a different pair id, names, dtypes or shapes), or an int8 codec is asked
    ///   of a server that is not cleave's; `CleaveError.io` when the server cannot be reached.
    public init(edge: LoadedBundle, url: String, modelName: String? = nil, codec: BoundaryCodec,
                link: LinkEmulation? = nil, options: SessionOptions = SessionOptions(), client: HTTPClient = .shared,
                wire: WireFormat? = nil, timeoutSeconds: Double = 600) async throws {
        guard edge.manifest.role == .edge else {
            throw CleaveError.badInput("\(edge.path): is a \(edge.manifest.role.rawValue) bundle; --remote runs an edge bundle here and its cloud half on the server")
        }
        self.edge = edge
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        self.modelName = modelName ?? edge.cutID.map { ServedModel.cutName(ServedModel.defaultName(for: edge.manifest), $0) }
            ?? ServedModel.defaultName(for: edge.manifest)
        self.codec = codec
        self.link = link
        self.client = client
        self.timeoutSeconds = timeoutSeconds
        session = try edge.session(options: options)

        // AsyncHTTPClient retries refused connections until the deadline: keep
        // the first contact short so that a server that is not there fails fast.
        if let wire {
            self.wire = wire
        } else {
            let (status, body, _) = try await RemoteRunner.send(HTTPClientRequest(url: "\(base)/v2"), client: client,
                                                                limit: 1 << 20, timeoutSeconds: min(10, timeoutSeconds))
            self.wire = RemoteRunner.wireFormat(status: status, serverMetadata: body)
        }
        let (status, body, _) = try await RemoteRunner.send(HTTPClientRequest(url: "\(base)/v2/models/\(self.modelName)"), client: client,
                                                            limit: 16 << 20, timeoutSeconds: min(10, timeoutSeconds))
        guard status == 200 else { throw RemoteRunner.failure(status: status, body: body, what: "model '\(self.modelName)' at \(base)") }
        let metadataURL = "\(base)/v2/models/\(self.modelName)"
        let metadata: JSON
        do {
            metadata = try body.withUnsafeBytes { try InferenceProtocol.parseHeader($0, length: $0.count) }
        } catch let error as ServeError {
            throw CleaveError.badInput("\(metadataURL): malformed model metadata: \(error.message)")
        }
        var declared: [String] = []
        var specs: [String: (datatype: String?, shape: [Int]?)] = [:]
        var bytes = 0
        for output in metadata["outputs"]?.arrayValue ?? [] {
            guard let name = output["name"]?.stringValue else { continue }
            declared.append(name)
            specs[name] = (output["datatype"]?.stringValue, output["shape"]?.arrayValue?.map { $0.intValue ?? -1 })
            // Unknown (-1) dims count as 1: the limit only has to admit the declared tensors.
            let elements = output["shape"]?.arrayValue?.reduce(1) { $0.multipliedReportingOverflow(by: max(1, $1.intValue ?? 1)).partialValue } ?? 0
            bytes = bytes.addingReportingOverflow(elements.multipliedReportingOverflow(by: 8).partialValue).partialValue
        }
        outputNames = declared + edge.manifest.finalOutputs
        declaredOutputs = specs
        // JSON spends up to ~25 bytes per element where binary spends 4–8.
        responseLimit = (64 << 20) + min(bytes, 1 << 40) * (self.wire == .json ? 4 : 1)
        try RemoteRunner.check(metadata, against: edge, at: metadataURL)
        serverPairID = metadata["parameters"]?["pair_id"]?.stringValue
        if codec.quantizes(.float) && serverPairID == nil {
            throw CleaveError.badInput("\(metadataURL) is not a cleave server (its metadata has no parameters.pair_id), so it cannot dequantise --boundary-codec \(codec.rawValue); use --boundary-codec none")
        }
    }

    /// Binary tensor data when `GET /v2` lists the `binary_tensor_data`
    /// extension (Triton's name for it, which `cleave serve` uses too), JSON
    /// otherwise: the protocol makes binary data an extension a server must
    /// declare, and MLServer, which declares none, rejects binary bodies.
    /// (KServe's Python server reads them without declaring it: pass
    /// `wire: .binary` to use it there.)
    static func wireFormat(status: Int, serverMetadata body: [UInt8]) -> WireFormat {
        guard status == 200, let metadata = try? JSON.parse(body),
              let extensions = metadata["extensions"]?.arrayValue else { return .json }
        return extensions.contains { $0.stringValue == "binary_tensor_data" } ? .binary : .json
    }

    /// The server's model must take exactly the edge's boundary (a dim the
    /// metadata gives as -1 takes any size), and, when it says which pair it
    /// belongs to (cleave does; Triton, KServe and MLServer do not), be its cloud half.
    static func check(_ metadata: JSON, against edge: LoadedBundle, at url: String) throws {
        if let pair = metadata["parameters"]?["pair_id"]?.stringValue, pair != edge.manifest.pairID {
            throw CleaveError.badInput("\(url) serves pair \(pair.prefix(12))…, not this edge bundle's pair \(edge.manifest.pairID.prefix(12))…")
        }
        if let cut = metadata["parameters"]?["cut"]?.stringValue, let own = edge.cutID, cut != own {
            throw CleaveError.badInput("\(url) serves cut \(cut) of the pair, not cut \(own)")
        }
        let inputs = metadata["inputs"]?.arrayValue ?? []
        let served = inputs.map { input in
            (name: input["name"]?.stringValue ?? "?", datatype: input["datatype"]?.stringValue ?? "?",
             shape: input["shape"]?.arrayValue?.map { $0.intValue ?? -2 } ?? [])
        }
        func takes(_ spec: Manifest.TensorSpec) -> Bool {
            served.contains { input in
                input.name == spec.name && input.datatype == spec.dtype.kserveName && input.shape.count == spec.shape.dims.count
                    && zip(input.shape, spec.shape.dims).allSatisfy { $0 == -1 || $0 == $1 }
            }
        }
        let boundary = edge.manifest.boundary.map(\.tensor)
        guard served.count == boundary.count && Set(served.map(\.name)).count == served.count && boundary.allSatisfy(takes) else {
            throw CleaveError.badInput("\(url) takes inputs \(served.map { "\($0.name):\($0.datatype)\($0.shape)" }.joined(separator: ", ")), but the edge bundle's boundary is \(boundary.map { "\($0.name):\($0.dtype.kserveName ?? "?")\($0.shape.dims)" }.joined(separator: ", "))")
        }
    }

    /// Runs the edge half, the cloud half remotely, and returns every output of the model.
    /// - Throws: `CleaveError.badInput` for bad inputs or a 4xx answer,
    ///   `CleaveError.io` when the server cannot be reached or fails.
    public func run(_ inputs: [String: Tensor]) async throws -> (outputs: [String: Tensor], breakdown: RemoteBreakdown) {
        let start = Session.now()
        let edgeOutputs = try session.run(inputs)
        try await RemoteRunner.emulateSlowdown(edgeSlowdown, since: start)
        let edgeDone = Session.now()

        let (body, headerLength) = try encodeRequest(edgeOutputs)
        var request = HTTPClientRequest(url: "\(baseURL)/v2/models/\(modelName)/infer")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: headerLength == nil ? "application/json" : "application/octet-stream")
        if let headerLength { request.headers.add(name: InferenceProtocol.headerLengthField, value: String(headerLength)) }
        if codec.deflates { request.headers.add(name: "Content-Encoding", value: "deflate") }
        request.body = .bytes(body)
        let encoded = Session.now()

        var emulated = 0.0
        if let link {
            emulated += link.oneWaySeconds(bytes: body.count)
            try await Task.sleep(nanoseconds: UInt64(link.oneWaySeconds(bytes: body.count) * 1e9))
        }
        let sent = Session.now()
        let (status, response, responseHeaderLength) = try await RemoteRunner.send(request, client: client, limit: responseLimit, timeoutSeconds: timeoutSeconds)
        let received = Session.now()
        if let link {
            emulated += link.oneWaySeconds(bytes: response.count)
            try await Task.sleep(nanoseconds: UInt64(link.oneWaySeconds(bytes: response.count) * 1e9))
        }
        guard status == 200 else { throw RemoteRunner.failure(status: status, body: response, what: "inference on \(baseURL)") }

        let decodeStart = Session.now()
        var (outputs, cloudMilliseconds) = try response.withUnsafeBytes { try decodeResponse($0, headerLength: responseHeaderLength) }
        for name in edge.manifest.finalOutputs { outputs[name] = edgeOutputs[name] }
        let end = Session.now()

        let breakdown = RemoteBreakdown(
            edgeMilliseconds: (edgeDone - start) * 1000,
            encodeMilliseconds: (encoded - edgeDone) * 1000,
            requestBytes: body.count, responseBytes: response.count,
            transferMilliseconds: max(0, (received - sent) * 1000 - cloudMilliseconds) + emulated * 1000,
            cloudMilliseconds: cloudMilliseconds,
            decodeMilliseconds: (end - decodeStart) * 1000,
            totalMilliseconds: (end - start) * 1000)
        return (outputs, breakdown)
    }

    /// Sleeps (slowdown − 1) × the time since `start`.
    public static func emulateSlowdown(_ slowdown: Double, since start: Double) async throws {
        guard slowdown > 1 else { return }
        try await Task.sleep(nanoseconds: UInt64((Session.now() - start) * (slowdown - 1) * 1e9))
    }

    // MARK: wire

    /// The request body: every boundary tensor in binary (or as JSON `data`
    /// when `wire` is `.json`), FP32 ones quantised per the codec; all outputs
    /// asked for the same way; deflated for `int8+zlib`.
    func encodeRequest(_ edgeOutputs: [String: Tensor]) throws -> (body: [UInt8], headerLength: Int?) {
        var section: [UInt8] = []
        var entries: [JSON] = []
        let binary = wire == .binary
        for boundary in edge.manifest.boundary {
            let name = boundary.tensor.name
            guard let tensor = edgeOutputs[name] else { throw CleaveError.badInput("the edge half did not compute boundary tensor '\(name)'") }
            guard codec.quantizes(tensor.dtype) else {
                entries.append(InferenceProtocol.entry(name: name, tensor: tensor, binary: binary, into: &section))
                continue
            }
            let (codes, quantization) = try Quantization.quantized(tensor, name: name)
            entries.append(InferenceProtocol.entry(name: name, tensor: codes, binary: binary,
                                                   parameters: [("scale", .double(Double(quantization.scale))), ("zero_point", .int(quantization.zeroPoint))],
                                                   into: &section))
        }
        // A JSON request names no output parameters at all: every server then
        // answers with all outputs as JSON. The id is optional in the protocol,
        // but KServe's Python server fails to build a JSON response without one.
        let id = JSON.string("cleave-" + String(UInt64.random(in: 0...UInt64.max), radix: 16))
        let header = JSON.object([("id", id), ("inputs", .array(entries))]
                                 + (binary ? [("parameters", .object([("binary_data_output", .bool(true))]))] : []))
        let (body, headerLength) = InferenceProtocol.body(header: header, binary: section)
        guard codec.deflates else { return (body, headerLength) }
        return (try body.withUnsafeBytes { try Zlib.deflate($0, level: BoundaryCodec.deflateLevel) }, headerLength)
    }

    /// The outputs of a response and the server's compute time.
    func decodeResponse(_ body: UnsafeRawBufferPointer, headerLength field: String?) throws -> ([String: Tensor], Double) {
        do {
            let length = try InferenceProtocol.headerLength(field, bodyCount: body.count)
            let header = try InferenceProtocol.parseHeader(body, length: length)
            var binary = InferenceProtocol.BinaryCursor(body: body, start: length)
            guard let entries = header["outputs"]?.arrayValue else { throw ServeError.badRequest("there is no 'outputs' array") }
            var outputs: [String: Tensor] = [:]
            for entry in entries {
                let wire = try InferenceProtocol.readTensor(entry, role: "output", binary: &binary)
                // Outputs the metadata did not declare are not the cloud half's: ignored.
                guard let declared = declaredOutputs[wire.name] else { continue }
                guard outputs[wire.name] == nil else { throw ServeError.badRequest("output '\(wire.name)' appears twice") }
                let datatype = wire.tensor.dtype.kserveName ?? wire.tensor.dtype.name
                if let expected = declared.datatype, expected != datatype {
                    throw ServeError.badRequest("output '\(wire.name)' is \(datatype) but the model's metadata declares \(expected)")
                }
                let dims = wire.tensor.shape.dims
                if let expected = declared.shape,
                   expected.count != dims.count || zip(expected, dims).contains(where: { $0 >= 0 && $0 != $1 }) {
                    throw ServeError.badRequest("output '\(wire.name)' has shape \(dims) but the model's metadata declares \(expected)")
                }
                outputs[wire.name] = wire.tensor
            }
            if let missing = outputNames.first(where: { outputs[$0] == nil && declaredOutputs[$0] != nil }) {
                throw ServeError.badRequest("output '\(missing)' is missing")
            }
            guard binary.remaining == 0 else { throw ServeError.badRequest("\(binary.remaining) bytes of binary data follow the outputs") }
            return (outputs, header["parameters"]?["compute_ms"]?.doubleValue ?? 0)
        } catch let error as ServeError {
            throw CleaveError.badInput("\(baseURL): malformed inference response: \(error.message)")
        }
    }

    /// Sends `request` and collects the body.
    /// - Throws: `CleaveError.io` when the server cannot be reached or the body exceeds `limit`.
    static func send(_ request: HTTPClientRequest, client: HTTPClient, limit: Int, timeoutSeconds: Double) async throws -> (status: Int, body: [UInt8], headerLength: String?) {
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
            let buffer = try await response.body.collect(upTo: limit)
            return (Int(response.status.code), Array(buffer.readableBytesView), response.headers.first(name: InferenceProtocol.headerLengthField))
        } catch {
            throw CleaveError.io("\(request.url): \(error)")
        }
    }

    /// The server's `{"error": …}` as a CleaveError: 4xx means this request was
    /// wrong for the model (bad input), anything else a server or network fault.
    static func failure(status: Int, body: [UInt8], what: String) -> CleaveError {
        let message = (try? JSON.parse(body))?["error"]?.stringValue ?? String(decoding: body.prefix(200), as: UTF8.self)
        // One line, whatever the server put in its body.
        let text = "\(what): HTTP \(status): " + message.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return (400..<500).contains(status) ? .badInput(text) : .io(text)
    }
}
