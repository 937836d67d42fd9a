import CleaveRuntime
import Foundation

/// A fixed set of worker threads, each owning one `Session`, that run
/// inferences off the event loops and the Swift concurrency pool.
///
/// Sessions are not thread-safe, and a model run is long, blocking CPU work:
/// on NIO's event loops it would stall every connection of that loop, and on
/// the cooperative pool it would starve other tasks. So each worker thread
/// owns its session outright and takes jobs from one FIFO queue; callers await
/// a continuation. At most `count` inferences run at once; the rest wait in
/// order of arrival.
final class SessionPool: @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [(Session) -> Void] = []
    private var head = 0
    private var stopping = false
    private var running = 0
    let count: Int

    /// Starts `count` workers, each with a session from `make`.
    /// - Throws: whatever `make` throws (an unsupported op, say), before any thread starts.
    init(count: Int, make: () throws -> Session) throws {
        let sessions = try (0..<max(1, count)).map { _ in try make() }
        self.count = sessions.count
        running = sessions.count
        for (index, session) in sessions.enumerated() {
            let thread = Thread { [self] in work(with: session) }
            thread.name = "cleave-session-\(index)"
            thread.start()
        }
    }

    /// Runs `body` with a session on a worker thread.
    /// - Throws: what `body` throws, or `CancellationError` once the pool is shut down.
    func run<T>(_ body: @escaping (Session) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job: (Session) -> Void = { session in continuation.resume(with: Result { try body(session) }) }
            condition.lock()
            guard !stopping else {
                condition.unlock()
                continuation.resume(throwing: CancellationError())
                return
            }
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }
    }

    /// Lets queued jobs finish, then stops the workers and waits for them.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work(with session: Session) {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            guard head < jobs.count else {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            // Compact the queue now and then rather than shifting on every take.
            if head >= 64 && head * 2 >= jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job(session)
        }
    }
}
