import CleaveIR
import CleaveRuntime
import XCTest

/// MaxPool, AveragePool and the global pools against the naive definition.
/// Maxima are exact; averages of at most 27 values are held to rtol 1e-3 / atol 1e-4.
final class PoolingTests: XCTestCase {
    private func randomPool(_ random: inout SeededRandom, rank: Int, max isMax: Bool, trial: Int) throws {
        var kernel: [Int] = [], strides: [Int] = [], dilations: [Int] = []
        var padsBegin: [Int] = [], padsEnd: [Int] = [], input: [Int] = []
        for _ in 0..<rank {
            let taps = random.int(1...3), dilation = random.int(1...2)
            kernel.append(taps)
            strides.append(random.int(1...3))
            dilations.append(dilation)
            // ONNX requires pads smaller than the kernel; inputs at least one window wide keep every window non-empty.
            padsBegin.append(random.int(0...(taps - 1)))
            padsEnd.append(random.int(0...(taps - 1)))
            let extent = (taps - 1) * dilation + 1
            input.append(random.int(extent...(extent + (rank == 3 ? 3 : 7))))
        }
        let ceil = random.bool(), countIncludePad = random.bool()
        let x = random.tensor([random.int(1...2), random.int(1...3)] + input)
        let (expected, indices) = Naive.pool(x, max: isMax, kernel: kernel, strides: strides, dilations: dilations,
                                             padsBegin: padsBegin, padsEnd: padsEnd, ceil: ceil,
                                             countIncludePad: countIncludePad)
        var attributes: [String: AttributeValue] = [
            "kernel_shape": .ints(kernel), "strides": .ints(strides), "dilations": .ints(dilations),
            "pads": .ints(padsBegin + padsEnd), "ceil_mode": .int(ceil ? 1 : 0),
        ]
        if !isMax { attributes["count_include_pad"] = .int(countIncludePad ? 1 : 0) }
        let y = try runNode(isMax ? "MaxPool" : "AveragePool", inputs: [("X", x)], attributes: attributes,
                            outputs: isMax ? 2 : 1, opset: 19, threads: 1 + trial % 2)
        let label = "\(isMax ? "Max" : "Average")Pool x\(x.shape) k\(kernel) s\(strides) d\(dilations) p\(padsBegin)\(padsEnd) ceil \(ceil) include \(countIncludePad)"
        assertClose(y[0], expected, label)
        if isMax { XCTAssertEqual(y[1].int64s, indices, label + " indices") }
    }

    func testRandomMaxPool() throws {
        var random = SeededRandom(21)
        for trial in 0..<45 { try randomPool(&random, rank: [1, 2, 2, 3][trial % 4], max: true, trial: trial) }
    }

    func testRandomAveragePool() throws {
        var random = SeededRandom(22)
        for trial in 0..<45 { try randomPool(&random, rank: [1, 2, 2, 3][trial % 4], max: false, trial: trial) }
    }

    /// With `storage_order = 1` the indices count down columns of each plane first.
    func testMaxPoolColumnMajorIndices() throws {
        var random = SeededRandom(23)
        for dims in [[2, 2, 5, 7], [1, 2, 3, 4, 5]] {
            let x = random.tensor(dims)
            let n = dims.count - 2
            let kernel = [Int](repeating: 2, count: n), ones = [Int](repeating: 1, count: n)
            let (expected, indices) = Naive.pool(x, max: true, kernel: kernel, strides: ones, dilations: ones,
                                                 padsBegin: ones, padsEnd: ones.map { _ in 0 }, ceil: false,
                                                 countIncludePad: false, columnMajor: true)
            let y = try runNode("MaxPool", inputs: [("X", x)],
                                attributes: ["kernel_shape": .ints(kernel), "pads": .ints(ones + ones.map { _ in 0 }),
                                             "storage_order": .int(1)], outputs: 2)
            assertClose(y[0], expected, "\(dims)")
            XCTAssertEqual(y[1].int64s, indices, "\(dims) indices")
        }
    }

    func testAutoPadSame() throws {
        var random = SeededRandom(24)
        let x = random.tensor([1, 2, 6, 7])
        // in 6, stride 2, k 3 → out 3, total 1; in 7 → out 4, total 2.
        for (mode, begin, end) in [("SAME_UPPER", [0, 1], [1, 1]), ("SAME_LOWER", [1, 1], [0, 1])] {
            let y = try runNode("AveragePool", inputs: [("X", x)],
                                attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "auto_pad": .text(mode)])
            let (expected, _) = Naive.pool(x, max: false, kernel: [3, 3], strides: [2, 2], dilations: [1, 1],
                                           padsBegin: begin, padsEnd: end, ceil: false, countIncludePad: false)
            assertClose(y[0], expected, mode)
        }
    }

    func testGlobalPools() throws {
        var random = SeededRandom(25)
        for dims in [[2, 3, 5], [1, 4, 3, 6], [2, 2, 2, 3, 4], [3, 2]] {
            let x = random.tensor(dims)
            let planes = dims[0] * dims[1], plane = x.elementCount / planes
            let values = x.floats
            let outDims = Array(dims[..<2]) + [Int](repeating: 1, count: dims.count - 2)
            let average = try runNode("GlobalAveragePool", inputs: [("X", x)], threads: 2)
            let maximum = try runNode("GlobalMaxPool", inputs: [("X", x)])
            let slices = (0..<planes).map { values[($0 * plane)..<(($0 + 1) * plane)] }
            assertClose(average[0], Tensor(Shape(outDims), floats: slices.map { $0.reduce(0, +) / Float(plane) }), "avg \(dims)")
            assertClose(maximum[0], Tensor(Shape(outDims), floats: slices.map { $0.max() ?? 0 }), "max \(dims)")
        }
    }

    /// 8-bit maxima are exact through float32 and come back in the input's type.
    func testMaxPoolOnBytes() throws {
        let values: [UInt8] = [3, 250, 7, 0, 1, 2, 255, 9, 4]
        let y = try runNode("MaxPool", inputs: [("X", Tensor(.uint8, [1, 1, 3, 3], values))],
                            attributes: ["kernel_shape": .ints([2, 2])], opset: 12)
        XCTAssertEqual(y[0].dtype, .uint8)
        XCTAssertEqual(y[0].elements(as: UInt8.self), [250, 250, 255, 9])
        let signed: [Int8] = [-128, -3, 5, 127]
        let z = try runNode("MaxPool", inputs: [("X", Tensor(.int8, [1, 1, 4], signed))],
                            attributes: ["kernel_shape": .ints([2])], opset: 12)
        XCTAssertEqual(z[0].elements(as: Int8.self), [-3, 5, 127])
    }

    func testPoolRefusals() {
        var random = SeededRandom(26)
        assertRefused("kernel_shape") { _ = try runNode("MaxPool", inputs: [("X", random.tensor([1, 1, 4, 4]))]) }
        assertRefused("spatial dims") {
            _ = try runNode("MaxPool", inputs: [("X", random.tensor([1, 1, 4]))], attributes: ["kernel_shape": .ints([2, 2])])
        }
        assertRefused("supported: float32, float16") {
            _ = try runNode("AveragePool", inputs: [("X", Tensor(.uint8, [1, 1, 2, 2], [UInt8](repeating: 1, count: 4)))],
                            attributes: ["kernel_shape": .ints([2, 2])])
        }
    }
}
