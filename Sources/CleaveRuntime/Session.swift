import CleaveIR
import COpenBLAS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Options for building a `Session`.
public struct SessionOptions: Sendable {
    /// Threads for kernels and OpenBLAS; defaults to all cores.
    public var threads: Int
    public init(threads: Int? = nil) {
        self.threads = threads ?? Session.availableCores
    }
}

/// How long one node took in a run.
public struct NodeTiming: Sendable {
    public var node: String
    public var op: String
    public var milliseconds: Double
}

/// An executable form of a graph: kernels chosen and a memory plan made once,
/// then `run` as often as needed.
///
/// A tensor is released right after its last consumer ran (graph outputs and
/// constants excepted), so peak memory is the weights plus the live activations.
/// A session is not meant to be shared across threads: build one per thread.
public final class Session {
    public let graph: Graph
    public let options: SessionOptions
    private let context: KernelContext
    private let kernels: [Kernel]
    /// The graph node each kernel runs (a Relu fused into its Conv and a
    /// Constant have none: `Fusion`).
    private let kernelNodes: [Int]
    /// Value ids: every tensor name maps to a slot.
    private let slots: [String: Int]
    private let nodeInputs: [[Int?]]
    private let nodeOutputs: [[Int]]
    /// Slots to release after node i ran.
    private let releases: [[Int]]
    private let constantSlots: [(Int, Tensor)]
    private let inputSlots: [(ValueInfo, Int)]
    private let inputNames: Set<String>
    private let outputSlots: [(String, Int)]

    /// Builds kernels for every node.
    /// - Throws: `CleaveError.badInput` listing every unsupported op at once,
    ///   or the first node whose attributes are invalid.
    public init(graph: Graph, options: SessionOptions = SessionOptions()) throws {
        self.graph = graph
        self.options = options
        Session.keepFreedMemoryForReuse
        context = KernelContext(threads: options.threads)

        var unsupported: [String: Int] = [:]
        for node in graph.nodes where node.op == nil {
            let name = node.domain.isEmpty ? node.opType : "\(node.domain).\(node.opType)"
            unsupported[name, default: 0] += 1
        }
        if !unsupported.isEmpty {
            let list = unsupported.sorted { $0.key < $1.key }.map { $0.value > 1 ? "\($0.key) (×\($0.value))" : $0.key }
            throw CleaveError.badInput("unsupported ops: \(list.joined(separator: ", "))")
        }

        let constants = graph.constants
        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slots[name] { return s }
            slots[name] = slots.count
            return slots.count - 1
        }
        let inputs = graph.runtimeInputs.map { ($0, slot($0.name)) }
        var constantSlots: [(Int, Tensor)] = []
        for initializer in graph.initializers { constantSlots.append((slot(initializer.name), initializer.tensor)) }
        for constant in Fusion.constants(in: graph) { constantSlots.append((slot(constant.output), constant.value)) }

        let fusedRelus = Fusion.convRelus(in: graph)
        let absorbed = Fusion.kernelless(in: graph)
        var kernels: [Kernel] = []
        var kernelNodes: [Int] = []
        var nodeInputs: [[Int?]] = []
        var nodeOutputs: [[Int]] = []
        var lastUse: [Int: Int] = [:]
        for (index, node) in graph.nodes.enumerated() where !absorbed.contains(index) {
            guard let op = node.op else { continue }  // unreachable: checked above
            var setup = KernelSetup(node: node, op: op, opset: graph.opsetVersion, constants: constants)
            var outputs = node.outputs
            if let relu = fusedRelus[index] {
                setup.fusedRelu = true
                outputs = graph.nodes[relu].outputs
            }
            kernels.append(try KernelRegistry.make(op, setup))
            kernelNodes.append(index)
            let ins = node.inputs.map { $0.isEmpty ? nil : slot($0) }
            nodeInputs.append(ins)
            for s in ins.compactMap({ $0 }) { lastUse[s] = kernels.count - 1 }
            nodeOutputs.append(outputs.map { slot($0) })
        }
        let outputs = graph.outputs.map { ($0.name, slot($0.name)) }
        let pinned = Set(outputs.map(\.1)).union(constantSlots.map(\.0))
        var releases = [[Int]](repeating: [], count: kernels.count)
        for (s, step) in lastUse where !pinned.contains(s) { releases[step].append(s) }

        self.slots = slots
        self.kernels = kernels
        self.kernelNodes = kernelNodes
        self.nodeInputs = nodeInputs
        self.nodeOutputs = nodeOutputs
        self.releases = releases
        self.constantSlots = constantSlots
        self.inputSlots = inputs
        self.inputNames = Set(inputs.map { $0.0.name })
        self.outputSlots = outputs
    }

    /// Runs the graph.
    /// - Parameter inputs: a tensor for every runtime input, by name.
    /// - Returns: the graph outputs by name.
    /// - Throws: `CleaveError.badInput` naming a missing, unexpected or
    ///   mistyped input, or the node that failed.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try execute(inputs, record: nil)
    }

    /// Runs the graph and records how long each node took (a Relu fused into
    /// its Conv is timed with the Conv; neither it nor a Constant is listed).
    public func run(_ inputs: [String: Tensor], timings: inout [NodeTiming]) throws -> [String: Tensor] {
        var recorded: [NodeTiming] = []
        let outputs = try execute(inputs) { index, seconds in
            let node = self.graph.nodes[index]
            recorded.append(NodeTiming(node: node.name.isEmpty ? self.graph.label(index) : node.name,
                                       op: node.opType, milliseconds: seconds * 1000))
        }
        timings = recorded
        return outputs
    }

    private func execute(_ inputs: [String: Tensor], record: ((Int, Double) -> Void)?) throws -> [String: Tensor] {
        // Products are split onto the session's own workers (`BLAS.gemm`), so
        // OpenBLAS must not thread them too; see `BLASThreads`.
        BLASThreads.enter()
        defer { BLASThreads.leave() }
        var values = [Tensor?](repeating: nil, count: slots.count)
        for (s, tensor) in constantSlots { values[s] = tensor }
        if let extra = inputs.keys.filter({ !inputNames.contains($0) }).min() {
            throw CleaveError.badInput("input '\(extra)' is not an input of the model (inputs: \(inputSlots.map { $0.0.name }.joined(separator: ", ")))")
        }
        for (info, s) in inputSlots {
            guard let tensor = inputs[info.name] else {
                throw CleaveError.badInput("input '\(info.name)' is missing (expected \(Session.describe(info)))")
            }
            try Session.check(tensor, against: info)
            values[s] = tensor
        }
        for (index, kernel) in kernels.enumerated() {
            let args = nodeInputs[index].map { $0.flatMap { values[$0] } }
            let start = record == nil ? 0 : Session.now()
            let results = try kernel.run(args, context)
            record?(kernelNodes[index], Session.now() - start)
            for (position, s) in nodeOutputs[index].enumerated() where position < results.count {
                values[s] = results[position]
            }
            for s in releases[index] { values[s] = nil }
        }
        var outputs: [String: Tensor] = [:]
        outputs.reserveCapacity(outputSlots.count)
        for (name, s) in outputSlots {
            guard let tensor = values[s] else { throw CleaveError.badInput("output '\(name)' was not computed") }
            outputs[name] = tensor
        }
        return outputs
    }

    /// Checks a fed tensor against the declared input: dtype, rank and fixed dims.
    static func check(_ tensor: Tensor, against info: ValueInfo) throws {
        var ok = info.dtype == nil || info.dtype == tensor.dtype
        if let dims = info.dims {
            ok = ok && dims.count == tensor.shape.rank
                && zip(dims, tensor.shape.dims).allSatisfy { $0.value == nil || $0.value == $1 }
        }
        guard ok else {
            throw CleaveError.badInput("input '\(info.name)': expected \(describe(info)), got \(tensor.dtype.name)\(tensor.shape)")
        }
    }

    static func describe(_ info: ValueInfo) -> String {
        let dims = info.dims.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[…]"
        return "\(info.dtype?.name ?? "any")\(dims)"
    }

    /// Monotonic seconds, for timing.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Activations are allocated per node and freed after their last use. By
    /// default glibc serves large blocks with fresh mmaps and returns them on
    /// free, so every run page-faults its activations in again; keeping large
    /// blocks on the heap lets the next node (and the next run) reuse them.
    private static let keepFreedMemoryForReuse: Void = {
        #if os(Linux)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // glibc's M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        _ = glibcMallopt(mmapThreshold, 1 << 30)
        _ = glibcMallopt(trimThreshold, 1 << 30)
        #endif
    }()

    /// Cores this process may use.
    public static var availableCores: Int {
        Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

#if os(Linux)
/// glibc's mallopt(3); <malloc.h> is not part of the Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// OpenBLAS's thread count is one setting for the whole process. While any
/// session runs it must be 1; the first run to start saves the caller's value
/// (compression's, say) and the last to finish restores it. Saving and
/// restoring per run would let one run's restore land in the middle of a
/// concurrent run (a server's sessions), which then threads its products
/// inside OpenBLAS as well — slower, and its sums in another order.
enum BLASThreads {
    private static let state = Mutex((running: 0, saved: Int32(1)))

    static func enter() {
        state.withLock { state in
            if state.running == 0 {
                state.saved = openblas_get_num_threads()
                openblas_set_num_threads(1)
            }
            state.running += 1
        }
    }

    static func leave() {
        state.withLock { state in
            state.running -= 1
            if state.running == 0 { openblas_set_num_threads(state.saved) }
        }
    }
}
