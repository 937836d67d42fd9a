import CleaveIR

/// An error that knows its HTTP status: the caller's mistakes are 4xx and their
/// message goes back in the `{"error": …}` body; anything else becomes a 500
/// whose body says nothing about the server's internals.
public struct ServeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The HTTP status code sent back (400, 404, 413, 415, 500, …).
    public var status: Int
    /// One line for the client: what was wrong with the request.
    public var message: String

    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    /// 400: the request is malformed or does not fit the model.
    public static func badRequest(_ message: String) -> ServeError { ServeError(400, message) }
    /// 404: no such model, version or endpoint.
    public static func notFound(_ message: String) -> ServeError { ServeError(404, message) }
    /// 413: the body, or what it inflates to, is larger than `--max-body`.
    public static func tooLarge(_ message: String) -> ServeError { ServeError(413, message) }
    /// 415: a `Content-Encoding` the server does not speak.
    public static func unsupportedMedia(_ message: String) -> ServeError { ServeError(415, message) }

    public var description: String { "HTTP \(status): \(message)" }

    /// The response body: `{"error": "<message>"}`.
    public var body: String { JSON.object([("error", .string(message))]).serialized() }
}
