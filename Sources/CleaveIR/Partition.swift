/// A split of a graph's nodes into an edge side and a cloud side.
///
/// Valid partitions are exactly the node sets closed under predecessors: no
/// cloud node may feed an edge node. Constant nodes belong to neither side;
/// like initializers, each half gets a copy of those it reads. The boundary is
/// every tensor produced on the edge side (or fed as a graph input) that a
/// cloud node reads — inside residual blocks that is several tensors.
public struct Partition: Sendable {
    /// Indices into `graph.nodes` of the edge side (Constant nodes excluded), ascending.
    public let edgeNodes: [Int]
    /// Indices of the cloud side (Constant nodes excluded), ascending.
    public let cloudNodes: [Int]
    /// The tensors that cross, in the order they are produced.
    public let boundary: [String]

    /// The partition whose edge side is `edge`.
    /// - Throws: `CleaveError.badInput` naming a tensor through which a cloud
    ///   node feeds an edge node.
    public init(graph: Graph, edge: Set<Int>) throws {
        let producers = graph.producers
        let isConstantNode = graph.nodes.map { $0.opType == "Constant" && $0.domain.isEmpty }
        var edgeNodes: [Int] = []
        var cloudNodes: [Int] = []
        for index in graph.nodes.indices where !isConstantNode[index] {
            if edge.contains(index) { edgeNodes.append(index) } else { cloudNodes.append(index) }
        }
        let edgeSet = Set(edgeNodes)
        for index in edgeNodes {
            for input in graph.nodes[index].inputs where !input.isEmpty {
                if let p = producers[input], !isConstantNode[p], !edgeSet.contains(p) {
                    throw CleaveError.badInput(
                        "not a valid cut: tensor '\(input)' is computed on the cloud side (by node \(graph.label(p))) but read on the edge side (by node \(graph.label(index)))")
                }
            }
        }
        let runtimeInputs = Set(graph.runtimeInputs.map(\.name))
        var crossing = Set<String>()
        for index in cloudNodes {
            for input in graph.nodes[index].inputs where !input.isEmpty {
                if let p = producers[input] {
                    if edgeSet.contains(p) { crossing.insert(input) }
                } else if runtimeInputs.contains(input) {
                    crossing.insert(input)
                }
            }
        }
        // Production order: graph inputs first, then node outputs in node order.
        var ordered = graph.runtimeInputs.map(\.name).filter { crossing.contains($0) }
        for index in edgeNodes {
            ordered += graph.nodes[index].outputs.filter { crossing.contains($0) }
        }
        self.edgeNodes = edgeNodes
        self.cloudNodes = cloudNodes
        self.boundary = ordered
    }

    /// The partition whose edge side computes `tensors` and everything they need
    /// (the closure of their producers), so it is always valid.
    /// - Throws: `CleaveError.badInput` for a name that is not a tensor of the
    ///   graph, or a cut that leaves the cloud side nothing to do.
    public init(graph: Graph, cutAt tensors: [String]) throws {
        let producers = graph.producers
        let known = Set(graph.runtimeInputs.map(\.name))
        var pending: [Int] = []
        for name in tensors {
            if let p = producers[name] {
                pending.append(p)
            } else if !known.contains(name) {
                let hint = graph.constants[name] != nil ? " (it is a weight, not an activation)" : ""
                throw CleaveError.badInput("cannot cut at '\(name)': no such tensor in the graph\(hint)")
            }
        }
        var edge = Set<Int>()
        while let index = pending.popLast() {
            guard edge.insert(index).inserted else { continue }
            for input in graph.nodes[index].inputs where !input.isEmpty {
                if let p = producers[input] { pending.append(p) }
            }
        }
        try self.init(graph: graph, edge: edge)
        if cloudNodes.isEmpty {
            throw CleaveError.badInput("cutting at \(tensors.map { "'\($0)'" }.joined(separator: ", ")) leaves nothing for the cloud side")
        }
    }
}

extension Graph {
    /// The index of the node that writes each tensor.
    public var producers: [String: Int] {
        var table: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { table[output] = index }
        }
        return table
    }
}
