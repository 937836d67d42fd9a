import CleaveIR
import CleaveRuntime
import XCTest

/// Einsum against a naive sum over every combination of label values
/// (letters only; the `...` forms are checked against ONNX Runtime by
/// tools/ort_cases.py). rtol 1e-4 / atol 1e-5: the products are short sums.
final class EinsumTests: XCTestCase {
    /// Σ over all labels of the product of the operands' elements, written
    /// to the output labels' position: einsum by its definition.
    private func naive(_ inputs: [String], _ output: String, _ operands: [Tensor]) -> Tensor {
        var sizes: [Character: Int] = [:]
        for (term, tensor) in zip(inputs, operands) {
            for (label, dim) in zip(term, tensor.shape.dims) where sizes[label] == nil || dim != 1 { sizes[label] = dim }
        }
        let labels = Array(sizes.keys)
        let outputDims = output.map { sizes[$0] ?? 1 }
        var result = [Double](repeating: 0, count: outputDims.reduce(1, *))
        let total = labels.reduce(1) { $0 * (sizes[$1] ?? 1) }
        let values = operands.map(\.floats)
        for combination in 0..<total {
            var value: [Character: Int] = [:]
            var rest = combination
            for label in labels {
                value[label] = rest % (sizes[label] ?? 1)
                rest /= sizes[label] ?? 1
            }
            var product = 1.0
            for (i, (term, tensor)) in zip(inputs, operands).enumerated() {
                var flat = 0
                for (label, dim) in zip(term, tensor.shape.dims) { flat = flat * dim + (dim == 1 ? 0 : value[label] ?? 0) }
                product *= Double(values[i][flat])
            }
            var target = 0
            for (label, dim) in zip(output, outputDims) { target = target * dim + (value[label] ?? 0) }
            result[target] += product
        }
        return Tensor(Shape(outputDims), floats: result.map { Float($0) })
    }

    func testEquationsMatchTheDefinition() throws {
        var random = SeededRandom(51)
        let cases: [(String, [[Int]])] = [
            ("bhid,bhjd->bhij", [[2, 3, 4, 5], [2, 3, 6, 5]]),  // attention scores: B read transposed
            ("bhij,bhjd->bhid", [[2, 3, 4, 6], [2, 3, 6, 5]]),  // attention values: no copies
            ("bij,bjk->bik", [[3, 4, 5], [3, 5, 2]]),
            ("bji,bjk->bik", [[3, 5, 4], [3, 5, 2]]),           // A read transposed
            ("ibj,kjb->bik", [[4, 3, 5], [2, 5, 3]]),           // both copied
            ("bid,jd->bij", [[2, 4, 8], [3, 8]]),
            ("ij->ji", [[3, 4]]),
            ("ij->i", [[3, 4]]),
            ("ijk->kj", [[2, 3, 4]]),
            ("i,j->ij", [[3], [4]]),
            ("i,i->", [[5], [5]]),
            ("ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]]),
            ("bn,anm,bm->ba", [[2, 3], [4, 3, 5], [2, 5]]),
            ("ii->i", [[4, 4]]),
            ("iij,jk->ik", [[3, 3, 4], [4, 2]]),               // a diagonal inside a product
            ("ijk,kl->il", [[2, 3, 4], [4, 5]]),              // j summed before the product
            ("ij,ij->ij", [[1, 4], [3, 4]]),                  // a dim of 1 broadcasts
            ("Ab,bC->AC", [[2, 3], [3, 4]]),                  // upper-case labels
            ("ij,jk->ik", [[3, 0], [0, 4]]),                  // an empty inner dim: zeros
        ]
        for (equation, shapes) in cases {
            let operands = shapes.map { random.tensor($0) }
            let sides = equation.split(separator: "-")
            let inputs = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let output = String(sides[1].dropFirst())
            for threads in [1, 2] {
                let y = try runNode("Einsum", inputs: operands.enumerated().map { ("x\($0.offset)", $0.element) },
                                    attributes: ["equation": .string(Array(equation.utf8))], opset: 12, threads: threads)[0]
                assertClose(y, naive(inputs, output, operands), rtol: 1e-4, atol: 1e-5, "\(equation) at \(threads) threads")
            }
        }
    }

    /// Without `->` the output is the letters that occur once, in ASCII order.
    func testImplicitOutput() throws {
        var random = SeededRandom(52)
        let a = random.tensor([3, 4]), b = random.tensor([4, 2])
        let y = try runNode("Einsum", inputs: [("a", a), ("b", b)], attributes: ["equation": .string(Array("kj,ji".utf8))], opset: 12)[0]
        assertClose(y, naive(["kj", "ji"], "ik", [a, b]), rtol: 1e-4, atol: 1e-5, "kj,ji → ik")
        let trace = try runNode("Einsum", inputs: [("a", random.tensor([3, 3]))], attributes: ["equation": .string(Array("ii".utf8))], opset: 12)[0]
        XCTAssertEqual(trace.shape, [])
    }

    func testMalformedEquationsAreRefused() {
        var random = SeededRandom(53)
        let a = random.tensor([2, 3]), b = random.tensor([3, 4])
        func run(_ equation: String, _ operands: [Tensor]) throws {
            _ = try runNode("Einsum", inputs: operands.enumerated().map { ("x\($0.offset)", $0.element) },
                            attributes: ["equation": .string(Array(equation.utf8))], opset: 12)
        }
        assertRefused("has '#', which is not a letter") { try run("ij#,jk->ik", [a, b]) }
        assertRefused("has 1 input terms, the node has 2 inputs") { try run("ij->ji", [a, b]) }
        assertRefused("term 0 has 3 labels but input 0 has rank 2") { try run("ijk,kl->il", [a, b]) }
        assertRefused("label 'j' is 3 in one place and 2 in input 1") { try run("ij,jk->ik", [a, random.tensor([2, 4])]) }
        assertRefused("inputs have '...' dims but the output has no '...'") { try run("...j,jk->k", [a, b]) }
        assertRefused("the output names label 'i' twice") { try run("ij,jk->ii", [a, b]) }
        assertRefused("output label 'z' is in no input") { try run("ij,jk->iz", [a, b]) }
        assertRefused("has more than one '->'") { try run("ij->j->i", [a]) }
        assertRefused("term 'i..j' has a '.' that is not one '...'") { try run("i..j->ij", [a]) }
        assertRefused("attribute 'equation' is required") { _ = try runNode("Einsum", inputs: [("a", a)], opset: 12) }
        assertRefused("supported: float32, float64") {
            _ = try runNode("Einsum", inputs: [("a", Tensor([2], int64s: [1, 2]))],
                            attributes: ["equation": .string(Array("i->i".utf8))], opset: 12)
        }
    }
}
