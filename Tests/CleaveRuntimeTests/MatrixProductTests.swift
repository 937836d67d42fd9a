import CleaveIR
import CleaveRuntime
import XCTest

/// Gemm and MatMul against the naive triple loop. Tolerance rtol 1e-3 /
/// atol 1e-4: inner dims up to 70 of values in [-1, 1).
final class MatrixProductTests: XCTestCase {
    func testRandomGemm() throws {
        var random = SeededRandom(11)
        for trial in 0..<48 {
            // One row or one column in some trials: those go to sgemv.
            let m = trial % 6 == 0 ? 1 : random.int(1...9)
            let n = trial % 6 == 1 ? 1 : random.int(1...9)
            let k = random.int(1...70)
            let transA = random.bool(), transB = random.bool()
            let alpha: Float = trial % 3 == 0 ? 1 : random.float() * 2
            let beta: Float = trial % 5 == 0 ? 0 : random.float() * 2
            let a = random.tensor(transA ? [k, m] : [m, k])
            let b = random.tensor(transB ? [n, k] : [k, n])
            let cShapes: [[Int]?] = [nil, [], [1], [n], [1, n], [m, 1], [m, n], [1, 1]]
            let cDims = cShapes[trial % cShapes.count]
            let c = cDims.map { random.tensor($0) }
            let expected = Naive.gemm(a.floats, b.floats, m: m, n: n, k: k, transA: transA, transB: transB,
                                      alpha: alpha, beta: beta, c: c.map { Naive.broadcast($0, to: [m, n]) })
            let y = try runNode("Gemm", inputs: [("A", a), ("B", b), ("C", c)],
                                constants: trial % 2 == 0 ? ["B", "C"] : [],
                                attributes: ["alpha": .float(alpha), "beta": .float(beta),
                                             "transA": .int(transA ? 1 : 0), "transB": .int(transB ? 1 : 0)],
                                opset: trial % 4 == 0 ? 9 : 13, threads: 1 + trial % 2)
            assertClose(y[0], Tensor([m, n], floats: expected),
                        "Gemm m\(m) n\(n) k\(k) tA\(transA) tB\(transB) α\(alpha) β\(beta) C\(cDims.map { "\($0)" } ?? "none")")
        }
    }

    /// Products big enough to be split across two threads, over C's columns
    /// (n ≥ m) or rows, including the matrix-vector shapes and ragged last blocks.
    func testSplitGemm() throws {
        var random = SeededRandom(14)
        let shapes = [(37, 1003, 64), (1003, 37, 64), (1, 40_001, 64), (40_001, 1, 64), (250, 250, 40)]
        for (trial, (m, n, k)) in shapes.enumerated() {
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = random.tensor(transA ? [k, m] : [m, k])
                let b = random.tensor(transB ? [n, k] : [k, n])
                let c = random.tensor([m, n])
                let expected = Naive.gemm(a.floats, b.floats, m: m, n: n, k: k, transA: transA, transB: transB,
                                          alpha: 0.5, beta: 2, c: c.floats)
                let y = try runNode("Gemm", inputs: [("A", a), ("B", b), ("C", c)], constants: trial % 2 == 0 ? ["B"] : [],
                                    attributes: ["alpha": .float(0.5), "beta": .float(2),
                                                 "transA": .int(transA ? 1 : 0), "transB": .int(transB ? 1 : 0)],
                                    threads: 2)
                assertClose(y[0], Tensor([m, n], floats: expected), "Gemm m\(m) n\(n) k\(k) tA\(transA) tB\(transB)")
            }
        }
    }

    func testGemmRefusals() {
        var random = SeededRandom(12)
        assertRefused("inner dim") {
            _ = try runNode("Gemm", inputs: [("A", random.tensor([2, 3])), ("B", random.tensor([4, 2]))])
        }
        assertRefused("does not broadcast") {
            _ = try runNode("Gemm", inputs: [("A", random.tensor([2, 3])), ("B", random.tensor([3, 4])),
                                             ("C", random.tensor([3]))])
        }
        assertRefused("matrices") {
            _ = try runNode("Gemm", inputs: [("A", random.tensor([2, 3, 1])), ("B", random.tensor([3, 4]))])
        }
    }

    /// NumPy matmul: 1-D operands promoted and their unit dim dropped, batch dims broadcast.
    func testRandomMatMul() throws {
        var random = SeededRandom(13)
        let layouts: [([Int], [Int])] = [
            ([5], [5]), ([5], [5, 3]), ([4, 5], [5]), ([2, 3, 4, 5], [5]), ([5], [2, 5, 3]),
            ([4, 5], [5, 3]), ([2, 4, 5], [5, 3]), ([2, 4, 5], [2, 5, 3]), ([2, 1, 4, 5], [3, 5, 6]),
            ([1, 4, 5], [3, 5, 2]), ([3, 1, 2, 5], [1, 2, 5, 4]), ([1, 5], [5, 7]), ([6, 5], [5, 1]),
            ([2, 1, 5], [5, 3]), ([4, 5], [1, 1, 5, 3]),
        ]
        for (trial, (aDims, bDims)) in layouts.enumerated() {
            let a = random.tensor(aDims), b = random.tensor(bDims)
            let y = try runNode("MatMul", inputs: [("A", a), ("B", b)], constants: trial % 2 == 0 ? ["B"] : [],
                                threads: 1 + trial % 2)
            assertClose(y[0], naiveMatMul(a, b), "MatMul \(aDims) × \(bDims)")
        }
    }

    /// float64 goes through dgemm (exact to double rounding); float16 is widened, multiplied, rounded once.
    func testOtherFloatTypes() throws {
        let a: [Double] = [1.5, -2, 0.25, 3, 1e-9, 7], b: [Double] = [2, -1, 0.5, 4, 1, 1e9]
        let y = try runNode("MatMul", inputs: [("A", Tensor(.double, [2, 3], a)), ("B", Tensor(.double, [3, 2], b))])
        XCTAssertEqual(y[0].dtype, .double)
        let expected: [Double] = [1.5 * 2 - 2 * 0.5 + 0.25, -1.5 - 8 + 0.25e9, 6 + 0.5e-9 + 7, -3 + 4e-9 + 7e9]
        for (got, want) in zip(y[0].elements(as: Double.self), expected) { XCTAssertEqual(got, want, accuracy: abs(want) * 1e-15) }
        let g = try runNode("Gemm", inputs: [("A", Tensor(.double, [2, 3], a)), ("B", Tensor(.double, [3, 2], b)),
                                             ("C", Tensor(.double, [2], [1.0, -1.0]))],
                            attributes: ["alpha": .float(2), "beta": .float(0.5)])
        for (got, want) in zip(g[0].elements(as: Double.self), expected.enumerated().map { 2 * $0.element + ($0.offset % 2 == 0 ? 0.5 : -0.5) }) {
            XCTAssertEqual(got, want, accuracy: abs(want) * 1e-6)
        }
        let h = try runNode("MatMul", inputs: [("A", Tensor(.float16, [1, 2], [Float16(0.5), Float16(3)])),
                                               ("B", Tensor(.float16, [2, 2], [Float16(2), Float16(-1), Float16(0.25), Float16(8)]))])
        XCTAssertEqual(h[0].dtype, .float16)
        XCTAssertEqual(h[0].elements(as: Float16.self), [Float16(1.75), Float16(23.5)])
        assertRefused("must match") {
            _ = try runNode("MatMul", inputs: [("A", Tensor(.double, [1, 1], [1.0])), ("B", Tensor([1, 1], floats: [1]))])
        }
    }

    func testMatMulRefusals() {
        var random = SeededRandom(14)
        assertRefused("inner dim") {
            _ = try runNode("MatMul", inputs: [("A", random.tensor([2, 3])), ("B", random.tensor([4, 2]))])
        }
        assertRefused("broadcast") {
            _ = try runNode("MatMul", inputs: [("A", random.tensor([2, 2, 3])), ("B", random.tensor([3, 3, 2]))])
        }
    }

    /// matmul by its definition: promote, broadcast batch dims, multiply each pair, drop promoted dims.
    private func naiveMatMul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let aDims = a.shape.rank == 1 ? [1] + a.shape.dims : a.shape.dims
        let bDims = b.shape.rank == 1 ? b.shape.dims + [1] : b.shape.dims
        let m = aDims[aDims.count - 2], k = aDims[aDims.count - 1], n = bDims[bDims.count - 1]
        let rank = Swift.max(aDims.count, bDims.count) - 2
        let aBatch = [Int](repeating: 1, count: rank - (aDims.count - 2)) + aDims.dropLast(2)
        let bBatch = [Int](repeating: 1, count: rank - (bDims.count - 2)) + bDims.dropLast(2)
        let batch = zip(aBatch, bBatch).map { Swift.max($0, $1) }
        let av = Naive.broadcast(a.reshaped(Shape(aBatch + [m, k])), to: batch + [m, k])
        let bv = Naive.broadcast(b.reshaped(Shape(bBatch + [k, n])), to: batch + [k, n])
        var y: [Float] = []
        for index in 0..<batch.reduce(1, *) {
            y += Naive.gemm(Array(av[(index * m * k)..<((index + 1) * m * k)]),
                            Array(bv[(index * k * n)..<((index + 1) * k * n)]),
                            m: m, n: n, k: k, transA: false, transB: false, alpha: 1, beta: 0, c: nil)
        }
        var dims = batch
        if a.shape.rank > 1 { dims.append(m) }
        if b.shape.rank > 1 { dims.append(n) }
        return Tensor(Shape(dims), floats: y)
    }
}
