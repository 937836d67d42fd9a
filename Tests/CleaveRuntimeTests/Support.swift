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
    guard let a = widened(actual), let e = widened(expected) else {
        XCTFail("\(what): cannot compare \(actual.dtype.name) with \(expected.dtype.name)", file: file, line: line)
        return
    }
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

/// The elements as Float, for comparisons; nil for element types tests don't compare.
func widened(_ tensor: Tensor) -> [Float]? {
    switch tensor.dtype {
    case .float: return tensor.floats
    case .double: return tensor.elements(as: Double.self).map { Float($0) }
    case .float16: return tensor.elements(as: Float16.self).map { Float($0) }
    case .int64: return tensor.int64s.map { Float($0) }
    case .int32: return tensor.elements(as: Int32.self).map { Float($0) }
    case .int8: return tensor.elements(as: Int8.self).map { Float($0) }
    case .uint8, .bool: return tensor.elements(as: UInt8.self).map { Float($0) }
    default: return nil
    }
}
