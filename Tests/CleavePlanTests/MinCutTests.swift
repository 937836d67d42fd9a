import CleaveIR
import XCTest

@testable import CleavePlan

/// The min-cut against brute force: every subset of vertices that is closed
/// under predecessors, on small random DAGs whose tensors have several consumers.
final class MinCutTests: XCTestCase {
    /// A random DAG of `n` vertices: each vertex writes one tensor read by
    /// 0–3 later vertices; one or two model inputs feed random vertices.
    func randomProblem(_ random: inout SplitMix64, vertices n: Int) -> CutProblem {
        func uniform(_ range: ClosedRange<Double>) -> Double {
            range.lowerBound + (range.upperBound - range.lowerBound) * Double(random.next() >> 11) / Double(1 << 53)
        }
        var tensors: [CutProblem.TensorFlow] = []
        for _ in 0..<(1 + Int(random.next() % 2)) {
            let readers = (0..<n).filter { _ in random.next() % 3 == 0 }
            tensors.append(CutProblem.TensorFlow(producer: nil, consumers: readers.isEmpty ? [0] : readers, transferCost: uniform(0...20)))
        }
        for v in 0..<n {
            let later = Array((v + 1)..<n)
            let count = later.isEmpty ? 0 : Int(random.next() % 4)
            var readers = Set<Int>()
            for _ in 0..<count { readers.insert(later[Int(random.next() % UInt64(later.count))]) }
            tensors.append(CutProblem.TensorFlow(producer: v, consumers: readers.sorted(), transferCost: uniform(0...20)))
        }
        return CutProblem(edgeCost: (0..<n).map { _ in uniform(0...30) }, cloudCost: (0..<n).map { _ in uniform(0...10) },
                          tensors: tensors)
    }

    /// The cheapest valid edge side by enumeration, within the pins.
    func bruteForce(_ problem: CutProblem, onEdge: [Int] = [], onCloud: [Int] = []) -> Double? {
        var best: Double?
        for mask in 0..<(1 << problem.count) {
            let edge = (0..<problem.count).map { mask & (1 << $0) != 0 }
            guard onEdge.allSatisfy({ edge[$0] }), onCloud.allSatisfy({ !edge[$0] }), let cost = problem.cost(edge) else { continue }
            if best.map({ cost < $0 }) ?? true { best = cost }
        }
        return best
    }

    func testMinCutEqualsBruteForceOnRandomDAGs() {
        var random = SplitMix64(seed: 42)
        for trial in 0..<120 {
            let problem = randomProblem(&random, vertices: 1 + trial % 11)
            guard let side = problem.solve(), let cost = problem.cost(side) else {
                XCTFail("trial \(trial): no valid partition returned")
                continue
            }
            guard let expected = bruteForce(problem) else {
                XCTFail("trial \(trial): brute force found nothing")
                continue
            }
            XCTAssertEqual(cost, expected, accuracy: 1e-9 * max(1, expected), "trial \(trial)")
        }
    }

    func testPinnedMinCutEqualsBruteForce() {
        var random = SplitMix64(seed: 7)
        var checked = 0
        for trial in 0..<80 {
            let n = 2 + trial % 9
            let problem = randomProblem(&random, vertices: n)
            let v = Int(random.next() % UInt64(n - 1))
            let w = v + 1 + Int(random.next() % UInt64(n - 1 - v))
            let expected = bruteForce(problem, onEdge: [v], onCloud: [w])
            let side = problem.solve(onEdge: [v], onCloud: [w])
            guard let expected else {
                XCTAssertNil(side, "trial \(trial): the pins admit no partition, yet one was returned")
                continue
            }
            guard let side, let cost = problem.cost(side) else {
                XCTFail("trial \(trial): no side")
                continue
            }
            XCTAssertTrue(side[v] && !side[w], "trial \(trial): pins not honoured")
            XCTAssertEqual(cost, expected, accuracy: 1e-9 * max(1, expected), "trial \(trial)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 50)
    }

    func testContradictoryPinsHaveNoPartition() {
        // 0 → 1: 1 on the edge needs 0 there too.
        let problem = CutProblem(edgeCost: [1, 1], cloudCost: [1, 1],
                                 tensors: [CutProblem.TensorFlow(producer: 0, consumers: [1], transferCost: 1)])
        XCTAssertNil(problem.solve(onEdge: [1], onCloud: [0]))
    }

    func testATensorIsSentOnceHoweverManyCloudNodesReadIt() {
        let problem = CutProblem(edgeCost: [0, 100, 100, 100], cloudCost: [100, 1, 1, 1],
                                 tensors: [CutProblem.TensorFlow(producer: 0, consumers: [1, 2, 3], transferCost: 5)])
        XCTAssertEqual(problem.solve(), [true, false, false, false])
        XCTAssertEqual(problem.cost([true, false, false, false]), 8)
        XCTAssertNil(problem.cost([false, true, false, false]), "a cloud node feeding an edge node is not a partition")
    }
}
