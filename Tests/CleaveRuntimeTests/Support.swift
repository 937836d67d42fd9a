import CleaveIR
import CleaveRuntime
import XCTest

/// The repository's fixtures/ folder.
let fixturesDirectory: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/fixtures"
}()

/// Asserts |actual - expected| <= atol + rtol·|expected| element-wise, with a
/// message naming the worst element.
func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-3, atol: Float = 1e-4,
                 _ what: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let a = actual.dtype == .float ? actual.floats : actual.integerValues?.map(Float.init) ?? []
    let e = expected.dtype == .float ? expected.floats : expected.integerValues?.map(Float.init) ?? []
    XCTAssertEqual(a.count, e.count, "\(what): element count", file: file, line: line)
    var worst = (index: -1, excess: Float(0))
    for i in 0..<min(a.count, e.count) {
        let excess = abs(a[i] - e[i]) - (atol + rtol * abs(e[i]))
        if excess > worst.excess || (a[i].isNaN != e[i].isNaN) { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    if worst.index >= 0 {
        XCTFail("\(what): element \(worst.index) is \(a[worst.index]), expected \(e[worst.index])", file: file, line: line)
    }
}
