import Foundation
import XCTest

/// Runs the built `cleave` binary the way users and release scripts do, and
/// checks exit codes and the key lines of its output.
final class CLITests: XCTestCase {
    func testHelpTeachesEveryCommand() throws {
        let result = try cleave("--help")
        XCTAssertEqual(result.status, 0)
        for command in ["convert", "run"] { XCTAssertTrue(result.stdout.contains(command), command) }
        XCTAssertTrue(result.stdout.contains("Exit codes"))
    }

    func testConvertWritesAModelThatReadsBack() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out.onnx"
        let result = try cleave("convert", fixture("tf2onnx_style"), "-o", output)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try cleave("convert", output, "-o", directory + "/again.onnx").status, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["again.onnx", "out.onnx"])
    }

    func testBadModelsExit65WithOneLineAndWriteNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for bad in ["empty.onnx", "truncated.onnx", "random_bytes.onnx", "cycle.onnx", "escape/model.onnx"] {
            let result = try cleave("convert", "\(fixturesDirectory)/bad/\(bad)", "-o", directory + "/out.onnx")
            XCTAssertEqual(result.status, 65, bad)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(bad): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("cleave: "), result.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testUsageErrorsExit64AndIOErrorsExit74() throws {
        XCTAssertEqual(try cleave("convert", fixture("pytorch_style")).status, 64)  // -o missing
        XCTAssertEqual(try cleave("run", fixture("pytorch_style"), "--threads", "0").status, 64)
        XCTAssertEqual(try cleave("convert", "/nonexistent/model.onnx", "-o", "/tmp/x.onnx").status, 74)
        XCTAssertEqual(try cleave("convert", fixture("pytorch_style"), "-o", "/nonexistent/dir/x.onnx").status, 74)
    }

    func testRunRefusesAMistypedInputNamingIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A .npy of the wrong kind: the model wants float32[batch,3,32,32].
        let result = try cleave("run", fixture("pytorch_style"),
                                "--input", "input=\(fixturesDirectory)/mixed_ops/inputs/x.npy")
        XCTAssertEqual(result.status, 65)
        XCTAssertTrue(result.stderr.contains("'input'"), result.stderr)
    }

    // MARK: helpers

    func fixture(_ name: String) -> String { "\(fixturesDirectory)/\(name)/model.onnx" }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path
}()

let fixturesDirectory = repositoryRoot + "/fixtures"

/// The `cleave` executable next to the test bundle (`swift test` builds it).
let cleaveBinary: String = {
    let bundle = Bundle.main.bundleURL.path
    for candidate in [bundle + "/cleave", (bundle as NSString).deletingLastPathComponent + "/cleave"]
    where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    return repositoryRoot + "/.build/debug/cleave"
}()

@discardableResult
func cleave(_ arguments: String...) throws -> CommandResult {
    try cleave(arguments)
}

@discardableResult
func cleave(_ arguments: [String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: cleaveBinary)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cleave-cli-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
