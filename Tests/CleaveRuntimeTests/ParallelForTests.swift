import Foundation
import XCTest
@testable import CleaveRuntime

/// `KernelContext.parallelFor` and the `WorkerPool` behind it: every index
/// runs exactly once, whoever runs it, including when several sessions on
/// different threads want the workers at once and when a loop nests another.
final class ParallelForTests: XCTestCase {
    /// Counts how often each index ran; chunks write disjoint slots of one buffer.
    private final class Visits: @unchecked Sendable {
        let counts: UnsafeMutableBufferPointer<Int>
        init(_ count: Int) { counts = .allocate(capacity: count); counts.initialize(repeating: 0) }
        deinit { counts.deallocate() }
    }

    func testEveryIndexRunsOnce() {
        for threads in [1, 2, 3, 8] {
            let context = KernelContext(threads: threads)
            for count in [1, 2, 3, 7, 64, 1000, 100_003] {
                for grain in [1, 5, 65_536] {
                    let visits = Visits(count)
                    context.parallelFor(count, grain: grain) { range in
                        for i in range { visits.counts[i] += 1 }
                    }
                    XCTAssertEqual(visits.counts.firstIndex { $0 != 1 }, nil,
                                   "threads \(threads), count \(count), grain \(grain)")
                }
            }
        }
    }

    func testBackToBackLoopsAfterTheWorkersSlept() {
        let context = KernelContext(threads: 2)
        let visits = Visits(10_000)
        for round in 0..<300 {
            if round == 150 { usleep(20_000) }  // past the workers' idle spin: they sleep and must wake
            context.parallelFor(visits.counts.count, grain: 100) { range in
                for i in range { visits.counts[i] += 1 }
            }
        }
        XCTAssertEqual(visits.counts.firstIndex { $0 != 300 }, nil)
    }

    func testConcurrentCallersAndNestedLoops() {
        let callers = 4, count = 5_000
        let visits = (0..<callers).map { _ in Visits(count * 8) }
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let context = KernelContext(threads: 2)
            for _ in 0..<50 {
                context.parallelFor(8, grain: 1) { outer in
                    for row in outer {
                        // The inner loop finds the workers taken and runs inline.
                        context.parallelFor(count, grain: 64) { inner in
                            for i in inner { visits[caller].counts[row * count + i] += 1 }
                        }
                    }
                }
            }
        }
        for caller in 0..<callers {
            XCTAssertEqual(visits[caller].counts.firstIndex { $0 != 50 }, nil, "caller \(caller)")
        }
    }
}
