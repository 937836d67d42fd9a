import CPause
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The threads behind `KernelContext.parallelFor`: workers that stay awake
/// for a while after each loop, polling with the CPU's spin-wait hint and
/// now and then yielding the core, so the next loop starts on them in about
/// a microsecond.
///
/// Why not `DispatchQueue.concurrentPerform`: it wakes sleeping threads, and
/// on a virtual machine a wake-up costs 50–80 µs, longer than most layers'
/// halves, so two threads ran a 170 µs loop no faster than one. A model runs
/// its loops back to back, which keeps the workers awake; after
/// `idleSpinNanoseconds` without work they sleep on a condition variable.
///
/// One loop at a time owns the workers; a loop that finds them busy (another
/// session on another thread) runs inline.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker keeps polling before it sleeps.
    private static let idleSpinNanoseconds: UInt64 = 5_000_000

    private static let cores = Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Bits of `claims`: generation (high), chunk count, next chunk to claim (low).
    private static let indexBits = 20
    private static let indexMask = (1 << indexBits) - 1
    private static let generationShift = 2 * indexBits
    private static let generationMask = (1 << (Int.bitWidth - 1 - generationShift)) - 1

    /// The current loop and its claims, one word so that a worker can only
    /// claim a chunk of the loop it saw: generation << 40 | chunks << 20 | next.
    private let claims = Atomic<Int>(0)
    /// Chunks of the current loop not yet finished.
    private let pending = Atomic<Int>(0)
    /// Address of the current loop's body (a `Loop` on the caller's stack).
    private let loopAddress = Atomic<Int>(0)
    private let owned = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)

    private let lock = Mutex<Int>(0)  // guards worker creation; the value is the worker count
    private let sleepMutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeUp = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private struct Loop {
        let body: (Int) -> Void
    }

    private init() {
        pthread_mutex_init(sleepMutex, nil)
        pthread_cond_init(wakeUp, nil)
    }

    /// Runs `body(0..<chunks)`, the chunks spread over the caller and up to
    /// `chunks - 1` workers; returns when all have finished.
    func run(chunks: Int, _ body: (Int) -> Void) {
        guard chunks > 1, chunks <= Self.indexMask, owned.compareExchange(expected: false, desired: true,
                                                                         ordering: .acquiring).exchanged else {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        defer { owned.store(false, ordering: .releasing) }
        // More workers than cores would only take turns on them; the caller and
        // the workers that exist claim every chunk between them.
        ensureWorkers(Swift.min(chunks, Self.cores) - 1)
        withoutActuallyEscaping(body) { body in
            var loop = Loop(body: body)
            withUnsafeMutablePointer(to: &loop) { pointer in
                loopAddress.store(Int(bitPattern: UInt(bitPattern: pointer)), ordering: .relaxed)
                pending.store(chunks, ordering: .relaxed)
                let generation = ((claims.load(ordering: .relaxed) >> Self.generationShift) + 1) & Self.generationMask
                let word = (generation << Self.generationShift) | (chunks << Self.indexBits)
                claims.store(word, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(sleepMutex)
                    pthread_cond_broadcast(wakeUp)
                    pthread_mutex_unlock(sleepMutex)
                }
                work(generation: generation)
                var spins = 0
                while pending.load(ordering: .acquiring) != 0 {
                    cleave_cpu_relax()
                    spins += 1
                    if spins & 63 == 0 { sched_yield() }
                }
                loopAddress.store(0, ordering: .relaxed)
            }
        }
    }

    /// Claims and runs chunks of loop `generation` until none is left.
    private func work(generation: Int) {
        while true {
            let word = claims.load(ordering: .acquiring)
            let next = word & Self.indexMask, chunks = (word >> Self.indexBits) & Self.indexMask
            guard word >> Self.generationShift == generation, next < chunks else { return }
            guard claims.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing).exchanged
            else { continue }
            // The claim holds the loop open (its chunk is pending), so the address is live.
            let address = loopAddress.load(ordering: .relaxed)
            Self.execute(address, chunk: next)
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Calls the body outside `work`, so every reference it takes to the
    /// closure is released before the chunk counts as done.
    @inline(never)
    private static func execute(_ address: Int, chunk: Int) {
        guard let pointer = UnsafePointer<Loop>(bitPattern: address) else { return }
        pointer.pointee.body(chunk)
    }

    private func ensureWorkers(_ wanted: Int) {
        lock.withLock { count in
            while count < wanted {
                let box = Unmanaged.passRetained(self).toOpaque()
                var thread = pthread_t()
                guard pthread_create(&thread, nil, { argument in
                    guard let argument else { return nil }
                    Unmanaged<WorkerPool>.fromOpaque(argument).takeRetainedValue().serve()
                    return nil
                }, box) == 0 else {
                    Unmanaged<WorkerPool>.fromOpaque(box).release()
                    return  // fewer workers: the caller claims the rest of the chunks itself
                }
                pthread_detach(thread)
                count += 1
            }
        }
    }

    /// A worker's life: wait for a new loop, help with it, repeat.
    private func serve() -> Never {
        var seen = claims.load(ordering: .acquiring) >> Self.generationShift
        while true {
            let generation = waitForLoop(after: seen)
            work(generation: generation)
            seen = generation
        }
    }

    /// Polls for a loop newer than `seen`, then sleeps if none comes within `idleSpinNanoseconds`.
    private func waitForLoop(after seen: Int) -> Int {
        let deadline = Self.now() + Self.idleSpinNanoseconds
        var spins = 0
        while true {
            let generation = claims.load(ordering: .acquiring) >> Self.generationShift
            if generation != seen { return generation }
            cleave_cpu_relax()
            spins += 1
            if spins & 63 == 0 {
                // Give the core to anything else that wants it (OpenBLAS's own workers among them).
                sched_yield()
                if Self.now() > deadline { break }
            }
        }
        pthread_mutex_lock(sleepMutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var generation = claims.load(ordering: .sequentiallyConsistent) >> Self.generationShift
        while generation == seen {
            pthread_cond_wait(wakeUp, sleepMutex)
            generation = claims.load(ordering: .sequentiallyConsistent) >> Self.generationShift
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(sleepMutex)
        return generation
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
