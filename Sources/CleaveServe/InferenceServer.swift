import CleaveBundle
import CleaveIR
import CleaveRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Where and how `cleave serve` listens.
public struct ServeConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests); `InferenceServer.start` reports the one bound.
    public var port: Int
    /// The largest request body, before and after inflating (`--max-body`).
    public var maxBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8000, maxBodyBytes: Int = 256 << 20) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
    }
}

/// A KServe v2 (Open Inference Protocol) HTTP server for one model, on Hummingbird.
///
/// Endpoints: `GET /v2`, `/v2/health/live`, `/v2/health/ready`,
/// `/v2/models/{name}[/versions/1]`, `…/ready`, `…/config`, and
/// `POST …/infer` with JSON or binary tensor data and `deflate`/`gzip`
/// request bodies. Every request gets one access-log line; every error a
/// JSON `{"error": …}` body.
public enum InferenceServer {
    static let headerLengthName = HTTPField.Name(InferenceProtocol.headerLengthField)!
    typealias Context = BasicRequestContext

    /// Starts serving `model` and returns once the port is bound.
    /// - Parameter signals: stop gracefully on these (the CLI: SIGTERM, SIGINT);
    ///   in-flight requests finish first.
    /// - Throws: when the address cannot be bound.
    public static func start(_ model: ServedModel, configuration: ServeConfiguration, logger: Logger,
                             stopOnSignals: Bool = false) async throws -> RunningServer {
        try await start([(model.name, model)], configuration: configuration, logger: logger, stopOnSignals: stopOnSignals)
    }

    /// Starts serving several models (`ServedModel.all`: one per cut), each under its name.
    public static func start(_ models: [(name: String, model: ServedModel)], configuration: ServeConfiguration, logger: Logger,
                             stopOnSignals: Bool = false) async throws -> RunningServer {
        let ports = PortReport()
        let app = Application(
            router: router(ServedModels(models), configuration: configuration),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "cleave"),
            onServerRunning: { channel in ports.report(.success(channel.localAddress?.port ?? configuration.port)) },
            logger: logger)
        let task = Task {
            do {
                if stopOnSignals {
                    try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
                } else {
                    try await app.run()
                }
                ports.report(.failure(CleaveError.io("\(configuration.host):\(configuration.port): the server stopped before it was ready")))
            } catch {
                ports.report(.failure(CleaveError.io("cannot serve on \(configuration.host):\(configuration.port): \(error)")))
                throw error
            }
        }
        do {
            let port = try await ports.value()
            return RunningServer(port: port, task: task)
        } catch {
            task.cancel()
            throw error
        }
    }

    // MARK: routes

    static func router(_ model: ServedModels, configuration: ServeConfiguration) -> Router<Context> {
        let router = Router(context: Context.self)
        router.middlewares.add(AccessLogMiddleware())

        router.get("/v2") { _, _ in
            json(.object([("name", .string("cleave")), ("version", .string(cleaveVersion)),
                          ("extensions", .array([.string("binary_tensor_data")]))]))
        }
        router.get("/v2/health/live") { _, _ in json(.object([("live", .bool(true))])) }
        router.get("/v2/health/ready") { _, _ in json(.object([("ready", .bool(true))])) }

        for prefix in ["/v2/models/:name", "/v2/models/:name/versions/:version"] {
            router.get(RouterPath(prefix)) { _, context in
                json(try lookup(model, context).metadata)
            }
            router.get(RouterPath(prefix + "/ready")) { _, context in
                json(.object([("name", .string(try lookup(model, context).name)), ("ready", .bool(true))]))
            }
            router.get(RouterPath(prefix + "/config")) { _, context in
                json(try lookup(model, context).config.json)
            }
            router.post(RouterPath(prefix + "/infer")) { request, context in
                try await infer(request, model: try lookup(model, context), maxBody: configuration.maxBodyBytes)
            }
        }
        return router
    }

    /// The served model, if the path names one (and version 1, when it names one).
    static func lookup(_ models: ServedModels, _ context: Context) throws -> ServedModel {
        let name = context.parameters.get("name") ?? ""
        guard let model = models.byName[name] else {
            throw ServeError.notFound("unknown model '\(name)' (this server serves \(models.names.map { "'\($0)'" }.joined(separator: ", ")))")
        }
        if let version = context.parameters.get("version"), version != InferenceProtocol.modelVersion {
            throw ServeError.notFound("model '\(name)' has no version '\(version)' (it has version \(InferenceProtocol.modelVersion))")
        }
        return model
    }

    // MARK: inference

    /// A `Content-Encoding: deflate | gzip` body, inflated up to `maxBody`
    /// bytes; zlib's errors become the statuses a client can act on.
    static func inflate(_ body: UnsafeRawBufferPointer, encoding: Zlib.Format, maxBody: Int) throws -> [UInt8] {
        do {
            return try Zlib.inflate(body, format: encoding, limit: maxBody, what: "the \(encoding.name) body")
        } catch let error as CleaveError {
            switch error.kind {
            case .tooLarge: throw ServeError.tooLarge(error.message + " (--max-body)")
            case .badInput: throw ServeError.badRequest(error.message)
            case .io, .checkFailed, .usage: throw ServeError(500, error.message)
            }
        }
    }

    static func infer(_ request: Request, model: ServedModel, maxBody: Int) async throws -> Response {
        // Refuse by the declared length before reading a byte of the body.
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBody {
            throw ServeError.tooLarge("the body is \(declared) bytes; the limit is \(maxBody) (--max-body)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBody)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw ServeError.tooLarge("the body is larger than \(maxBody) bytes (--max-body)")
        }
        let encoding = request.headers[.contentEncoding]?.lowercased().trimmingSpaces()
        let headerLength = request.headers[headerLengthName]
        let decoded = try buffer.withUnsafeReadableBytes { body -> InferenceRequest in
            switch encoding {
            case nil, "identity":
                return try InferenceRequest(body: body, headerLength: headerLength, model: model)
            case "deflate", "gzip":
                let inflated = try inflate(body, encoding: encoding == "gzip" ? .gzip : .zlib, maxBody: maxBody)
                return try inflated.withUnsafeBytes { try InferenceRequest(body: $0, headerLength: headerLength, model: model) }
            case let other?:
                throw ServeError.unsupportedMedia("Content-Encoding '\(other)' is not supported (use deflate or gzip)")
            }
        }

        let (outputs, milliseconds) = try await model.infer(decoded.inputs)

        var section: [UInt8] = []
        var entries: [JSON] = []
        for requested in decoded.outputs {
            guard let tensor = outputs[requested.name] else { throw CleaveError.badInput("output '\(requested.name)' was not computed") }
            entries.append(InferenceProtocol.entry(name: requested.name, tensor: tensor, binary: requested.binary, into: &section))
        }
        var header: [(String, JSON)] = [("model_name", .string(model.name)), ("model_version", .string(InferenceProtocol.modelVersion))]
        if let id = decoded.id { header.append(("id", id)) }
        header.append(("parameters", .object([("compute_ms", .double(milliseconds))])))
        header.append(("outputs", .array(entries)))
        let (body, length) = InferenceProtocol.body(header: .object(header), binary: section)

        var fields: HTTPFields = [.contentType: length == nil ? "application/json" : "application/octet-stream"]
        if let length { fields[headerLengthName] = String(length) }
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A 200 response with a JSON body.
    static func json(_ value: JSON) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized())))
    }
}

/// The models a server answers for, by served name.
struct ServedModels: Sendable {
    let names: [String]
    let byName: [String: ServedModel]

    init(_ models: [(name: String, model: ServedModel)]) {
        names = models.map(\.name)
        byName = Dictionary(models.map { ($0.name, $0.model) }, uniquingKeysWith: { first, _ in first })
    }
}

/// A server started by `InferenceServer.start`.
public struct RunningServer: Sendable {
    /// The port bound (the one asked for, or the one the system picked for 0).
    public let port: Int
    let task: Task<Void, any Error>

    /// Returns when the server has stopped (after a signal, with `stopOnSignals`).
    public func wait() async throws { try await task.value }

    /// Stops accepting connections and closes them (tests).
    public func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// Hands the bound port (or the failure to bind) from the server's callback to `start`.
final class PortReport: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Int, any Error>?
    private var waiter: CheckedContinuation<Int, any Error>?

    func report(_ value: Result<Int, any Error>) {
        lock.withLock {
            guard result == nil else { return }
            result = value
            waiter?.resume(with: value)
            waiter = nil
        }
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            lock.withLock {
                if let result { continuation.resume(with: result) } else { waiter = continuation }
            }
        }
    }
}
