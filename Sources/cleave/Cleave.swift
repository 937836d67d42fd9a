import ArgumentParser
import CleaveIR

#if canImport(Glibc)
import Glibc
#endif

@main
struct Cleave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleave",
        abstract: "Compress an ONNX model, pick the best edge/cloud cut, and package both halves.",
        discussion: """
            Exit codes: 0 success, 1 a check failed, 64 usage error, 65 bad input data \
            (malformed model, bundle or tensor), 74 I/O error.
            """,
        version: "0.1.0",
        subcommands: [Split.self, Inspect.self, Convert.self, Run.self, Compress.self, Profile.self, PlanCommand.self, Cut.self, Verify.self, Keygen.self, Serve.self, ExportTriton.self, ExportKServe.self])

    /// Maps cleave's own errors to the exit codes of the CLI contract in one
    /// place; argument-parser handles its own (usage errors exit 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CleaveError {
            fputs("cleave: \(error.message)\n", stderr)
            Glibc.exit(error.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
