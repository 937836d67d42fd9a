/// The one error type cleave's modules throw. Its `kind` decides the exit code
/// in one place (the CLI), so every layer only says what went wrong.
public struct CleaveError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A model, bundle, tensor or request is malformed or unsupported (exit 65).
        case badInput
        /// Well-formed input that is larger than a named limit allows, e.g. a
        /// stream that inflates past its ceiling (exit 65, like `badInput`;
        /// kept apart so that a server can answer 413 rather than 400).
        case tooLarge
        /// Reading or writing a file failed, or the system refused memory (exit 74).
        case io
        /// A check ran and found problems, e.g. `verify` (exit 1).
        case checkFailed
        /// The arguments make no sense together (exit 64).
        case usage
    }

    public var kind: Kind
    /// One line that names the file, tensor or node and what was expected.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func badInput(_ message: String) -> CleaveError { CleaveError(.badInput, message) }
    public static func tooLarge(_ message: String) -> CleaveError { CleaveError(.tooLarge, message) }
    public static func io(_ message: String) -> CleaveError { CleaveError(.io, message) }

    public var description: String { message }

    /// The process exit code of the CLI contract (ARCHITECTURE.md).
    public var exitCode: Int32 {
        switch kind {
        case .checkFailed: return 1
        case .usage: return 64
        case .badInput, .tooLarge: return 65
        case .io: return 74
        }
    }
}
