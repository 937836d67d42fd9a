import CleaveIR
import CleaveRuntime
import Hummingbird
import Logging

/// Turns every error into a JSON `{"error": …}` response with the right
/// status, and writes one structured access-log line per request.
///
/// Caller mistakes (`ServeError` 4xx, Hummingbird's own 4xx such as an
/// unknown route) keep their message; anything else is logged in full here
/// and answered with a bare 500, so no internals leak to the client.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = Session.now()
        var failure: String?
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let (status, message, isInternal) = AccessLogMiddleware.describe(error, request)
            if isInternal { context.logger.error("request failed", metadata: ["error": "\(error)"]) }
            failure = message
            response = Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: ServeError(status, message).body)))
        }
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "path": .string(request.uri.path),
            "status": .stringConvertible(response.status.code),
            "bytes_in": .string(request.headers[.contentLength] ?? "-"),
            "bytes_out": .string(response.body.contentLength.map(String.init) ?? "-"),
            "ms": .string(String(format3: (Session.now() - start) * 1000)),
        ]
        if let failure { metadata["error"] = .string(failure) }
        context.logger.info("request", metadata: metadata)
        return response
    }

    /// Status, client-facing message, and whether it is the server's own fault.
    static func describe(_ error: any Error, _ request: Request) -> (status: Int, message: String, isInternal: Bool) {
        switch error {
        case let error as ServeError:
            return (error.status, error.message, error.status >= 500)
        case let error as HTTPError where error.status == .notFound && error.body == nil:
            // The router's answer to a path or method no route has.
            return (404, "no endpoint \(request.method.rawValue) \(request.uri.path)", false)
        case let error as HTTPError where error.status.code < 500:
            return (error.status.code, error.body ?? error.status.reasonPhrase, false)
        case let error as any HTTPResponseError where error.status.code < 500:
            return (error.status.code, error.status.reasonPhrase, false)
        default:
            return (500, "internal server error", true)
        }
    }
}

extension String {
    /// `value` with three decimals, for log lines.
    init(format3 value: Double) {
        let thousandths = Int((value * 1000).rounded())
        let fraction = String(abs(thousandths) % 1000)
        self = (thousandths < 0 ? "-" : "") + String(abs(thousandths) / 1000) + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
