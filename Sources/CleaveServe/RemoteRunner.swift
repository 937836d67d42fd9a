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

/// Runs an edge bundle locally and its cloud half on a KServe v2 server
/// (`cleave serve`, or Triton serving `cleave export-triton`'s repository).
///
/// The boundary tensors go in the binary tensor data extension, encoded per
/// `BoundaryCodec`; the outputs come back in binary too. With codec `none` the
/// outputs equal a local `cleave run EDGE CLOUD` bit for bit.
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
    private let session: Session
    private let client: HTTPClient
    /// Largest response accepted: the declared outputs plus room for the JSON header.
    private let responseLimit: Int

    /// Loads the edge half and reads the server's metadata for the cloud half.
    /// - Parameters:
    ///   - url: `http://HOST:PORT` of the server.
    ///   - modelName: the served name; by default the one `cleave serve` gives the pair.
    /// - Throws: `CleaveError.badInput` when the bundle is not an edge half or the
    ///   server's model does not take its boundary (a different pair id, names,
    ///   dtypes or shapes); `CleaveError.io` when the server cannot be reached.
    public init(edge: LoadedBundle, url: String, modelName: String? = nil, codec: BoundaryCodec,
                link: LinkEmulation? = nil, options: SessionOptions = SessionOptions(), client: HTTPClient = .shared,
                timeoutSeconds: Double = 600) async throws {
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
        let (status, body, _) = try await RemoteRunner.send(HTTPClientRequest(url: "\(base)/v2/models/\(self.modelName)"), client: client,
                                                            limit: 16 << 20, timeoutSeconds: min(10, timeoutSeconds))
        guard status == 200 else { throw RemoteRunner.failure(status: status, body: body, what: "model '\(self.modelName)' at \(base)") }
        let metadata = try body.withUnsafeBytes { try InferenceProtocol.parseHeader($0, length: $0.count) }
        var declared: [String] = []
        var bytes = 0
        for output in metadata["outputs"]?.arrayValue ?? [] {
            guard let name = output["name"]?.stringValue else { continue }
            declared.append(name)
            bytes += output["shape"]?.arrayValue?.reduce(8) { $0 * max(1, $1.intValue ?? 1) } ?? 0
        }
        outputNames = declared + edge.manifest.finalOutputs
        responseLimit = (64 << 20) + bytes
        try RemoteRunner.check(metadata, against: edge, at: "\(base)/v2/models/\(self.modelName)")
    }

    /// The server's model must take exactly the edge's boundary, and, when it
    /// says which pair it belongs to (cleave does; Triton does not), be its cloud half.
    static func check(_ metadata: JSON, against edge: LoadedBundle, at url: String) throws {
        if let pair = metadata["parameters"]?["pair_id"]?.stringValue, pair != edge.manifest.pairID {
            throw CleaveError.badInput("\(url) serves pair \(pair.prefix(12))…, not this edge bundle's pair \(edge.manifest.pairID.prefix(12))…")
        }
        if let cut = metadata["parameters"]?["cut"]?.stringValue, let own = edge.cutID, cut != own {
            throw CleaveError.badInput("\(url) serves cut \(cut) of the pair, not cut \(own)")
        }
        let served = (metadata["inputs"]?.arrayValue ?? []).map { input in
            "\(input["name"]?.stringValue ?? "?"):\(input["datatype"]?.stringValue ?? "?")\(input["shape"]?.arrayValue?.map { $0.intValue ?? -1 } ?? [])"
        }
        let boundary = edge.manifest.boundary.map { "\($0.tensor.name):\($0.tensor.dtype.kserveName ?? "?")\($0.tensor.shape.dims)" }
        guard Set(served) == Set(boundary) && served.count == boundary.count else {
            throw CleaveError.badInput("\(url) takes inputs \(served.joined(separator: ", ")), but the edge bundle's boundary is \(boundary.joined(separator: ", "))")
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

    /// The request body: every boundary tensor in binary, FP32 ones quantised
    /// per the codec; all outputs asked for in binary; deflated for `int8+zlib`.
    func encodeRequest(_ edgeOutputs: [String: Tensor]) throws -> (body: [UInt8], headerLength: Int?) {
        var section: [UInt8] = []
        var entries: [JSON] = []
        for boundary in edge.manifest.boundary {
            let name = boundary.tensor.name
            guard let tensor = edgeOutputs[name] else { throw CleaveError.badInput("the edge half did not compute boundary tensor '\(name)'") }
            guard codec.quantizes(tensor.dtype) else {
                entries.append(InferenceProtocol.entry(name: name, tensor: tensor, binary: true, into: &section))
                continue
            }
            let (codes, quantization) = try Quantization.quantized(tensor, name: name)
            entries.append(InferenceProtocol.entry(name: name, tensor: codes, binary: true,
                                                   parameters: [("scale", .double(Double(quantization.scale))), ("zero_point", .int(quantization.zeroPoint))],
                                                   into: &section))
        }
        let header = JSON.object([("inputs", .array(entries)), ("parameters", .object([("binary_data_output", .bool(true))]))])
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
            var outputs: [String: Tensor] = [:]
            for entry in header["outputs"]?.arrayValue ?? [] {
                let wire = try InferenceProtocol.readTensor(entry, role: "output", binary: &binary)
                outputs[wire.name] = wire.tensor
            }
            if let missing = outputNames.first(where: { outputs[$0] == nil }) { throw ServeError.badRequest("output '\(missing)' is missing") }
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
        let text = "\(what): HTTP \(status): \(message)"
        return (400..<500).contains(status) ? .badInput(text) : .io(text)
    }
}
