import CleaveRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

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
    /// Guarded by `condition`; taken jobs are set to nil at once so that their
    /// inputs are freed before the queue is compacted.
    private var jobs: [((Session) -> Void)?] = []
    private var head = 0
    private var stopping = false
    private var running = 0
    /// Jobs ran since the heap was last trimmed.
    private var dirty = false
    /// How long the queue stays empty before freed heap memory goes back to the OS.
    static let idleTrimDelay: TimeInterval = 0.2
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

    /// glibc's `malloc_trim(0)`: returns free heap pages of every arena to the OS.
    /// Looked up at run time because Glibc's Swift module leaves out <malloc.h>;
    /// a no-op on a C library without it.
    static let trimHeap: @Sendable () -> Void = {
        #if canImport(Glibc)
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
            return { _ = trim(0) }
        }
        #endif
        return {}
    }()

    private func work(with session: Session) {
        while true {
            condition.lock()
            while head == jobs.count && !stopping {
                // Inference allocates and frees activations on several threads,
                // which leaves glibc's per-thread heaps holding free pages. Once
                // the server has been idle for a moment, hand them back, so that
                // an idle server's RSS is its live memory. Never under load.
                if !condition.wait(until: Date(timeIntervalSinceNow: SessionPool.idleTrimDelay)), dirty, head == jobs.count {
                    dirty = false
                    condition.unlock()
                    SessionPool.trimHeap()
                    condition.lock()
                }
            }
            guard head < jobs.count else {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs[head]
            jobs[head] = nil
            head += 1
            // Compact the queue now and then rather than shifting on every take.
            if head >= 64 && head * 2 >= jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            dirty = true
            condition.unlock()
            job?(session)
        }
    }
}
