/// The partition problem as a graph cut, after DADS (Hu, Bai, Shen, Zhou,
/// Bei, Chang, "Dynamic Adaptive DNN Surgery for Inference Acceleration on
/// the Edge", INFOCOM 2019).
///
/// Vertices are the nodes of a DAG; each costs `edgeCost` if run on the edge
/// and `cloudCost` on the cloud. Each tensor has a producer (nil: a model
/// input, which is on the edge) and consumers, and costs `transferCost` if it
/// is produced on the edge and read on the cloud — once, however many cloud
/// nodes read it. A valid edge side is closed under predecessors. The cost of
/// an edge side E is Σ_{v∈E} edge + Σ_{v∉E} cloud + Σ_{crossing t} transfer.
///
/// Flow network (S side = edge): s→v with capacity cloudCost(v) and v→t with
/// edgeCost(v) charge each node for its side; for a tensor produced by u,
/// an auxiliary vertex a with u→a of capacity transferCost and a→w of
/// infinite capacity for every consumer w charges the transfer exactly once
/// when some consumer is on the cloud (a must then be on the T side); an
/// infinite w→u for every consumer w of a tensor of u forbids a cloud node
/// feeding an edge node. Every finite cut is a valid partition with that
/// cost and vice versa, so a minimum cut is an optimal partition. Solved by
/// Dinic's max-flow; the edge side is what the source still reaches.
struct CutProblem {
    struct TensorFlow {
        /// Index of the producing vertex; nil for a model input (on the edge).
        var producer: Int?
        var consumers: [Int]
        var transferCost: Double
    }

    var edgeCost: [Double]
    var cloudCost: [Double]
    var tensors: [TensorFlow]

    var count: Int { edgeCost.count }

    /// The cost of the partition whose edge side is `edge` (true = edge), or
    /// nil if it is not closed under predecessors.
    func cost(_ edge: [Bool]) -> Double? {
        var total = 0.0
        for v in 0..<count { total += edge[v] ? edgeCost[v] : cloudCost[v] }
        for tensor in tensors {
            let producedOnEdge = tensor.producer.map { edge[$0] } ?? true
            if !producedOnEdge && tensor.consumers.contains(where: { edge[$0] }) { return nil }
            if producedOnEdge && tensor.consumers.contains(where: { !edge[$0] }) { total += tensor.transferCost }
        }
        return total
    }

    /// An optimal edge side among those that contain `onEdge` and exclude
    /// `onCloud`; nil if no valid partition does (a pinned cloud vertex is an
    /// ancestor of a pinned edge vertex).
    func solve(onEdge: [Int] = [], onCloud: [Int] = []) -> [Bool]? {
        let n = count
        let source = n + tensors.count, sink = source + 1
        var network = FlowNetwork(vertices: sink + 1)
        for v in 0..<n {
            network.add(source, v, capacity: cloudCost[v])
            network.add(v, sink, capacity: edgeCost[v])
        }
        for (t, tensor) in tensors.enumerated() {
            let auxiliary = n + t
            network.add(tensor.producer ?? source, auxiliary, capacity: tensor.transferCost)
            for consumer in tensor.consumers {
                network.add(auxiliary, consumer, capacity: .infinity)
                if let producer = tensor.producer { network.add(consumer, producer, capacity: .infinity) }
            }
        }
        for v in onEdge { network.add(source, v, capacity: .infinity) }
        for v in onCloud { network.add(v, sink, capacity: .infinity) }
        guard network.maximumFlow(from: source, to: sink).isFinite else { return nil }
        let reached = network.reachable(from: source)
        return (0..<n).map { reached[$0] }
    }
}

/// A directed graph with real capacities and Dinic's blocking-flow
/// algorithm (E. A. Dinic, 1970): O(V²E) in general, a few passes on DAG
/// partition networks.
struct FlowNetwork {
    private var heads: [[Int]]
    private var to: [Int] = []
    private var residual: [Double] = []

    init(vertices: Int) {
        heads = [[Int]](repeating: [], count: vertices)
    }

    /// Adds an edge and its reverse (capacity 0) as a pair: edge e's reverse is e ^ 1.
    mutating func add(_ from: Int, _ target: Int, capacity: Double) {
        guard capacity > 0 else { return }
        heads[from].append(to.count)
        to.append(target)
        residual.append(capacity)
        heads[target].append(to.count)
        to.append(from)
        residual.append(0)
    }

    /// Residual capacities below this are treated as saturated: costs are
    /// milliseconds, so 1e-12 ms is far below anything the planner reports.
    private static let epsilon = 1e-12

    /// Pushes the maximum flow; returns its value (infinite when an
    /// all-infinite path joins the two).
    mutating func maximumFlow(from source: Int, to sink: Int) -> Double {
        var total = 0.0
        while true {
            guard let level = levels(from: source, to: sink) else { return total }
            var next = [Int](repeating: 0, count: heads.count)
            while true {
                let pushed = push(source, sink, .infinity, level, &next)
                if pushed <= FlowNetwork.epsilon { break }
                if pushed.isInfinite { return .infinity }
                total += pushed
            }
        }
    }

    /// BFS levels over unsaturated edges; nil when the sink is not reached.
    private func levels(from source: Int, to sink: Int) -> [Int]? {
        var level = [Int](repeating: -1, count: heads.count)
        level[source] = 0
        var queue = [source]
        var head = 0
        while head < queue.count {
            let v = queue[head]
            head += 1
            for e in heads[v] where residual[e] > FlowNetwork.epsilon && level[to[e]] < 0 {
                level[to[e]] = level[v] + 1
                queue.append(to[e])
            }
        }
        return level[sink] >= 0 ? level : nil
    }

    /// One augmenting path along increasing levels (DFS with the current-edge pointer `next`).
    private mutating func push(_ v: Int, _ sink: Int, _ limit: Double, _ level: [Int], _ next: inout [Int]) -> Double {
        if v == sink { return limit }
        while next[v] < heads[v].count {
            let e = heads[v][next[v]]
            let w = to[e]
            if residual[e] > FlowNetwork.epsilon && level[w] == level[v] + 1 {
                let pushed = push(w, sink, Swift.min(limit, residual[e]), level, &next)
                if pushed > FlowNetwork.epsilon {
                    if !pushed.isInfinite {
                        residual[e] -= pushed
                        residual[e ^ 1] += pushed
                    }
                    return pushed
                }
            }
            next[v] += 1
        }
        return 0
    }

    /// Vertices the source reaches over unsaturated edges (the source side of a minimum cut).
    func reachable(from source: Int) -> [Bool] {
        var seen = [Bool](repeating: false, count: heads.count)
        seen[source] = true
        var stack = [source]
        while let v = stack.popLast() {
            for e in heads[v] where residual[e] > FlowNetwork.epsilon && !seen[to[e]] {
                seen[to[e]] = true
                stack.append(to[e])
            }
        }
        return seen
    }
}
