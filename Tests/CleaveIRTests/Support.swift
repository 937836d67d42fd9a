import CleaveIR
import Foundation
import XCTest

/// The repository root (tests read fixtures/ from it).
let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path
}()

let fixturesDirectory = repositoryRoot + "/fixtures"

/// The model fixtures: folders of fixtures/ that hold a fixture.json.
let modelFixtures: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory)) ?? []
    return names.filter { FileManager.default.fileExists(atPath: "\(fixturesDirectory)/\($0)/fixture.json") }.sorted()
}()

/// A fresh empty directory under the system's temporary folder.
func temporaryDirectory(_ name: String = #function) throws -> String {
    let path = NSTemporaryDirectory() + "cleave-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Asserts that `body` throws a `CleaveError` of `kind` whose message contains `fragment`.
func assertThrowsCleaveError<T>(_ kind: CleaveError.Kind, containing fragment: String,
                                file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as CleaveError {
        XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
        XCTAssertTrue(error.message.lowercased().contains(fragment.lowercased()),
                      "'\(error.message)' does not mention '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
