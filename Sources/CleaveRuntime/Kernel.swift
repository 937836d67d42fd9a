import CleaveIR

/// One operator, ready to run. Built once per session from its node, so it
/// can parse attributes, pre-pack weights and keep scratch buffers; `run` is
/// then called for every inference.
///
/// A kernel instance is used by one thread at a time (sessions are not shared
/// across threads; build one session per thread).
public protocol Kernel: AnyObject {
    /// Computes the node's outputs.
    /// - Parameter inputs: the node's inputs in order, nil where an optional
    ///   input was omitted (ONNX's empty name).
    /// - Returns: one tensor per node output (optional trailing outputs may be omitted).
    /// - Throws: `CleaveError.badInput` for shapes or dtypes the op cannot take,
    ///   naming the node.
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor]
}

/// What a kernel knows when it is built.
public struct KernelSetup {
    public let node: Node
    /// The node's op (kernels are built only for ops cleave knows).
    public let op: Op
    /// The ai.onnx opset of the model: attribute and input forms depend on it.
    public let opset: Int
    /// Values known before running (initializers, Constant outputs), by name,
    /// so kernels can pre-pack weights.
    public let constants: [String: Tensor]
    /// The kernel also applies the Relu that reads its output (`Fusion`).
    public var fusedRelu = false

    /// The node's name for messages: its name, or its op if unnamed.
    public var label: String { node.name.isEmpty ? node.opType : "'\(node.name)'" }

    /// The constant value of input `index`, if it is known at build time.
    public func constantInput(_ index: Int) -> Tensor? {
        node.input(index).flatMap { constants[$0] }
    }

    /// A `CleaveError.badInput` that names this node.
    public func error(_ message: String) -> CleaveError {
        .badInput("node \(label) (\(node.opType)): \(message)")
    }
}

/// Run-time settings shared by all kernels of a session.
public struct KernelContext: Sendable {
    /// Threads for the kernels' parallel loops and matrix products.
    public let threads: Int

    public init(threads: Int) {
        self.threads = Swift.max(1, threads)
    }

    /// Runs `body` over `0..<count` split into contiguous chunks, on up to
    /// `threads` threads (`WorkerPool`); runs inline when one thread or little work.
    /// - Parameter grain: the smallest chunk worth a thread.
    public func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, grain: grain) { _, range in body(range) }
    }

    /// `parallelFor` that also tells `body` which chunk it runs, numbered
    /// from 0 to below `chunks(count, grain:)`: per-chunk scratch memory
    /// can be indexed by it, since no two chunks run the same number.
    func parallelChunks(_ count: Int, grain: Int, _ body: (_ chunk: Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = chunks(count, grain: grain)
        if chunks <= 1 {
            body(0, 0..<count)
            return
        }
        WorkerPool.shared.run(chunks: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(chunk, start..<end) }
        }
    }

    /// Chunks `parallelFor(count, grain:)` runs in on this context's threads (1: inline).
    func chunks(_ count: Int, grain: Int) -> Int {
        KernelContext.chunks(count, grain: grain, threads: threads)
    }

    /// The fewest inner-loop steps (element-wise: elements) worth a thread:
    /// below it, handing work to another core, whose cache is cold, costs more
    /// than the loop saves.
    public static let minimumThreadWork = 65_536

    /// `parallelFor` over items of about `itemWork` inner-loop steps each,
    /// at least `minimumThreadWork` steps per thread, so a small layer runs inline.
    public func parallelFor(_ count: Int, itemWork: Int, _ body: (Range<Int>) -> Void) {
        parallelFor(count, grain: Self.grain(itemWork: itemWork), body)
    }

    /// The smallest chunk of items of `itemWork` steps each worth a thread.
    static func grain(itemWork: Int) -> Int {
        Swift.max(1, minimumThreadWork / Swift.max(1, itemWork))
    }

    /// Chunks `parallelFor(count, grain:)` runs in on `threads` threads (1: inline).
    static func chunks(_ count: Int, grain: Int, threads: Int) -> Int {
        Swift.min(threads, Swift.max(1, count / Swift.max(1, grain)))
    }
}

/// Whether a parallel loop of `work` inner-loop steps runs on more than one
/// of `threads` threads, for the planner's latency features.
package func loopSplitsAcrossThreads(work: Int, threads: Int) -> Bool {
    KernelContext.chunks(work, grain: KernelContext.grain(itemWork: 1), threads: threads) > 1
}
