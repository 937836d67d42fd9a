import CleaveIR
import CleaveRuntime

/// Finds where to cut a model between an edge device and a cloud server.
///
/// Predicted latency of a partition = edge compute + transfer + cloud compute:
/// - edge compute: the edge profile's prediction for the edge side's nodes,
///   plus its run overhead if the side has any node;
/// - transfer: the boundary tensors' bytes under the codec ÷ bandwidth, plus
///   the round-trip time, if the cloud side has any node (edge-only sends nothing);
/// - cloud compute: likewise with the cloud profile.
///
/// Constant nodes belong to neither side (each half gets their values as
/// weights) and cost nothing. The optimum is taken over every valid partition
/// — every set of nodes closed under predecessors, with any number of tensors
/// crossing — by a minimum s–t cut (`CutProblem`); the fixed terms (run
/// overheads, RTT) are added afterwards and the two extremes compared
/// explicitly, which is exact because they are the same for every partition
/// with both sides non-empty.
public enum Planner {
    /// Plans the cut.
    /// - Parameters:
    ///   - graph, analysis: the model and its analysis (shapes and costs).
    ///   - edge, cloud: device profiles (`DeviceProfile.builtInEdge` / `.builtInCloud` by default in the CLI).
    ///   - codec: how boundary tensors travel.
    ///   - boundaryBytes: bytes on the wire of a tensor by name. When nil: the
    ///     raw or int8 size from its type, and for `.int8Zlib` sizes measured
    ///     by `BoundarySizes.measure` on a synthetic input (a tensor it could
    ///     not measure at its raw size).
    ///   - bottlenecks: tensors compression created (default: the model's
    ///     `cleave.bottlenecks` metadata); the best cut at each is shown.
    ///   - maxCandidates: how many cuts along the main path to keep in the
    ///     readable set: the path is divided into this many stretches and the
    ///     best cut of each is kept.
    /// - Throws: `CleaveError` if the model cannot run to measure codec sizes,
    ///   or names a bottleneck that is not one of its tensors.
    public static func plan(graph: Graph, analysis: Analysis, edge: DeviceProfile, cloud: DeviceProfile, link: Link,
                            codec: BoundaryCodec, boundaryBytes: ((String) -> Int)? = nil,
                            bottlenecks: [String]? = nil, maxCandidates: Int = 12) throws -> Plan {
        let (edgeTimes, cloudTimes, sizes) = try costs(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                                       codec: codec, boundaryBytes: boundaryBytes)
        let problem = PlanProblem(graph: graph, edgeTimes: edgeTimes, cloudTimes: cloudTimes, sizes: sizes, link: link)
        let context = Plan.Context(edgeRunOverhead: edge.runOverhead, cloudRunOverhead: cloud.runOverhead, link: link)
        func candidate(_ edgeSide: [Bool]?, label: String) throws -> PlanCandidate {
            try problem.candidate(edgeSide ?? [Bool](repeating: true, count: problem.vertices.count), label: label, context: context)
        }
        let (optimum, edgeOnly, cloudOnly) = try problem.optimum(context: context)

        // The best cut after each node of the main path, and at each bottleneck.
        var seen = Set<[Int]>()
        var path: [PlanCandidate] = []
        let main = problem.mainPath()
        for (v, w) in zip(main, main.dropFirst()) {
            guard let side = problem.cut.solve(onEdge: [v], onCloud: [w]) else { continue }
            let label = "after \(problem.outputName(v))"
            let c = try candidate(side, label: label)
            if seen.insert(c.edgeNodes).inserted { path.append(c) }
        }
        var marked: [PlanCandidate] = []
        let names = bottlenecks ?? Planner.bottlenecks(of: graph)
        for name in names {
            guard let (producer, consumers) = problem.ends(of: name) else {
                throw CleaveError.badInput("bottleneck '\(name)' is not a tensor computed by a node of the model")
            }
            guard !consumers.isEmpty, let side = problem.cut.solve(onEdge: producer.map { [$0] } ?? [], onCloud: consumers) else { continue }
            marked.append(try candidate(side, label: "at \(name) (bottleneck)"))
        }

        // The readable set: extremes, bottlenecks, the best of the path cuts, the optimum.
        // A partition reached several ways is listed once, under its first label.
        var readable: [PlanCandidate] = []
        func add(_ c: PlanCandidate) {
            if !readable.contains(where: { $0.edgeNodes == c.edgeNodes }) { readable.append(c) }
        }
        for c in [cloudOnly, edgeOnly] + marked { add(c) }
        // The path cuts in `maxCandidates` stretches of the path, the best of each:
        // spread over the whole model rather than crowded where totals are close.
        let groups = Swift.max(0, Swift.min(maxCandidates, path.count))
        for group in 0..<groups {
            let stretch = path[(group * path.count / groups)..<((group + 1) * path.count / groups)]
            if let best = stretch.min(by: { $0.totalMilliseconds < $1.totalMilliseconds }) { add(best) }
        }
        add(path.first { $0.edgeNodes == optimum.edgeNodes } ?? optimum)
        readable.sort { ($0.edgeNodes.count, $0.label) < ($1.edgeNodes.count, $1.label) }
        let bestIndex = readable.firstIndex { $0.edgeNodes == optimum.edgeNodes } ?? 0

        let nodes = graph.nodes.indices.map { index in
            Plan.NodePrediction(name: graph.nodes[index].name.isEmpty ? graph.label(index) : graph.nodes[index].name,
                                op: graph.nodes[index].opType, kind: OpKind.of(index, in: analysis),
                                edgeMilliseconds: edgeTimes[index], cloudMilliseconds: cloudTimes[index])
        }
        return Plan(candidates: readable, bestIndex: bestIndex, nodes: nodes, link: link, codec: codec,
                    edgeProfile: edge, cloudProfile: cloud,
                    edgeTotalMilliseconds: edge.predictTotalMilliseconds(graph: graph, analysis: analysis),
                    cloudTotalMilliseconds: cloud.predictTotalMilliseconds(graph: graph, analysis: analysis))
    }

    /// Every node's predicted milliseconds on each device, and each tensor's
    /// bytes on the wire under `codec` (see `plan`'s `boundaryBytes`).
    static func costs(graph: Graph, analysis: Analysis, edge: DeviceProfile, cloud: DeviceProfile, codec: BoundaryCodec,
                      boundaryBytes: ((String) -> Int)?) throws -> (edge: [Double], cloud: [Double], sizes: (String) -> Int) {
        let edgeTimes = edge.predictMilliseconds(graph: graph, analysis: analysis)
        let cloudTimes = cloud.predictMilliseconds(graph: graph, analysis: analysis)
        if let boundaryBytes { return (edgeTimes, cloudTimes, boundaryBytes) }
        if codec == .int8Zlib {
            let measured = try BoundarySizes.measure(graph: graph, analysis: analysis, codec: codec)
            return (edgeTimes, cloudTimes, { name in measured[name] ?? analysis.types[name].map(\.byteCount) ?? 0 })
        }
        return (edgeTimes, cloudTimes, { name in analysis.types[name].flatMap { BoundarySizes.predicted($0, codec: codec) } ?? 0 })
    }

    /// The tensors named in the model's `cleave.bottlenecks` metadata (comma-separated).
    public static func bottlenecks(of graph: Graph) -> [String] {
        guard let value = graph.model.metadata.first(where: { $0.key == "cleave.bottlenecks" })?.value else { return [] }
        return value.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
    }
}

/// The cut problem of one model: its non-Constant nodes as vertices.
struct PlanProblem {
    let graph: Graph
    /// Node index of each vertex, ascending (topological).
    let vertices: [Int]
    let cut: CutProblem
    let tensorNames: [String]
    /// Bytes on the wire of every tensor that some vertex reads.
    let bytesOf: [String: Int]
    let link: Link
    private let vertexOf: [Int: Int]

    init(graph: Graph, edgeTimes: [Double], cloudTimes: [Double], sizes: (String) -> Int, link: Link) {
        self.graph = graph
        self.link = link
        let isConstant = graph.nodes.map { $0.op == .constant }
        vertices = graph.nodes.indices.filter { !isConstant[$0] }
        var vertexOf: [Int: Int] = [:]
        for (v, index) in vertices.enumerated() { vertexOf[index] = v }
        self.vertexOf = vertexOf

        // Tensors: runtime inputs, then node outputs in order; consumers are vertices.
        var producerOf: [String: Int?] = [:]
        var order: [String] = []
        for input in graph.runtimeInputs {
            producerOf[input.name] = .some(nil)
            order.append(input.name)
        }
        for (v, index) in vertices.enumerated() {
            for output in graph.nodes[index].outputs where !output.isEmpty {
                producerOf[output] = .some(v)
                order.append(output)
            }
        }
        var consumers: [String: [Int]] = [:]
        for (v, index) in vertices.enumerated() {
            for input in Set(graph.nodes[index].inputs) where !input.isEmpty && producerOf[input] != nil {
                consumers[input, default: []].append(v)
            }
        }
        var flows: [CutProblem.TensorFlow] = []
        var names: [String] = [], bytes: [String: Int] = [:]
        for name in order {
            guard let readers = consumers[name], let producer = producerOf[name] else { continue }
            let size = sizes(name)
            flows.append(CutProblem.TensorFlow(producer: producer, consumers: readers,
                                               transferCost: link.serializationMilliseconds(bytes: size)))
            names.append(name)
            bytes[name] = size
        }
        tensorNames = names
        bytesOf = bytes
        cut = CutProblem(edgeCost: vertices.map { edgeTimes[$0] }, cloudCost: vertices.map { cloudTimes[$0] }, tensors: flows)
    }

    /// The vertex that produces `name` (nil for a model input) and the vertices that read it;
    /// nil if no vertex produces it and it is not a model input.
    func ends(of name: String) -> (Int?, [Int])? {
        guard let t = tensorNames.firstIndex(of: name) else {
            // A tensor nobody reads crosses nowhere, but is still a tensor of the model.
            if let producer = graph.producers[name], let v = vertexOf[producer] { return (v, []) }
            return nil
        }
        return (cut.tensors[t].producer, cut.tensors[t].consumers)
    }

    /// The first output of vertex `v`, for labels.
    func outputName(_ v: Int) -> String {
        graph.nodes[vertices[v]].outputs.first { !$0.isEmpty } ?? graph.label(vertices[v])
    }

    /// The longest chain of vertices (by count) ending at a vertex that
    /// produces a model output: the model's "main path" (through the longest
    /// branch of every block), along which cut candidates are listed.
    func mainPath() -> [Int] {
        let n = vertices.count
        guard n > 0 else { return [] }
        var predecessors = [[Int]](repeating: [], count: n)
        for tensor in cut.tensors {
            guard let producer = tensor.producer else { continue }
            for consumer in tensor.consumers { predecessors[consumer].append(producer) }
        }
        var length = [Int](repeating: 1, count: n)
        var previous = [Int?](repeating: nil, count: n)
        for v in 0..<n {  // vertices are in topological order
            for p in predecessors[v] where length[p] + 1 > length[v] {
                length[v] = length[p] + 1
                previous[v] = p
            }
        }
        let outputs = Set(graph.outputs.map(\.name))
        let ends = (0..<n).filter { v in graph.nodes[vertices[v]].outputs.contains { outputs.contains($0) } }
        guard var v = (ends.isEmpty ? Array(0..<n) : ends).max(by: { length[$0] < length[$1] }) else { return [] }
        var path = [v]
        while let p = previous[v] {
            path.append(p)
            v = p
        }
        return path.reversed()
    }

    /// The optimum over every valid partition, and the two extremes it was compared with.
    func optimum(context: Plan.Context) throws -> (best: PlanCandidate, edgeOnly: PlanCandidate, cloudOnly: PlanCandidate) {
        let n = vertices.count
        let edgeOnly = try candidate([Bool](repeating: true, count: n), label: "edge-only", context: context)
        let cloudOnly = try candidate([Bool](repeating: false, count: n), label: "cloud-only", context: context)
        var best = edgeOnly.totalMilliseconds <= cloudOnly.totalMilliseconds ? edgeOnly : cloudOnly
        if n > 0, let side = cut.solve(), side.contains(true), side.contains(false) {
            let split = try candidate(side, label: "min-cut", context: context)
            if split.totalMilliseconds < best.totalMilliseconds { best = split }
        }
        return (best, edgeOnly, cloudOnly)
    }

    /// The candidate whose edge side is `edge` (per vertex).
    func candidate(_ edge: [Bool], label: String, context: Plan.Context) throws -> PlanCandidate {
        let edgeNodes = vertices.indices.filter { edge[$0] }.map { vertices[$0] }
        let cloudNodes = vertices.indices.filter { !edge[$0] }.map { vertices[$0] }
        var edgeMs = 0.0, cloudMs = 0.0
        for v in vertices.indices {
            if edge[v] { edgeMs += cut.edgeCost[v] } else { cloudMs += cut.cloudCost[v] }
        }
        if !edgeNodes.isEmpty { edgeMs += context.edgeRunOverhead }
        if !cloudNodes.isEmpty { cloudMs += context.cloudRunOverhead }

        var partition: Partition?
        var boundary: [PlanCandidate.BoundaryTensor] = []
        var transferMs = 0.0
        if !cloudNodes.isEmpty {
            let split = try Partition(graph: graph, edge: Set(edgeNodes))
            partition = split
            for name in split.boundary {
                boundary.append(PlanCandidate.BoundaryTensor(name: name, bytes: bytesOf[name] ?? 0))
            }
            transferMs = link.serializationMilliseconds(bytes: boundary.reduce(0) { $0 + $1.bytes }) + link.rttMilliseconds
        }
        return PlanCandidate(label: label, partition: partition, edgeNodes: edgeNodes, boundary: boundary,
                             edgeMilliseconds: edgeMs, transferMilliseconds: transferMs, cloudMilliseconds: cloudMs)
    }
}
