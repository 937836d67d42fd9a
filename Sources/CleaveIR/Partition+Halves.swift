extension Partition {
    public enum Side: String, Sendable {
        case edge, cloud
    }

    /// The graph one side runs, as a standalone model.
    ///
    /// - The edge half takes the model inputs it needs and outputs the boundary,
    ///   then any model outputs it computes itself (its "final outputs").
    /// - The cloud half takes the boundary and outputs the rest of the model outputs.
    /// - Each half gets the initializers and Constant-node values it reads, all as
    ///   initializers (so a bundle can keep every weight in weights.bin).
    /// - Parameter types: the resolved type of every value (from `Analysis`), so
    ///   the halves' inputs and outputs have concrete shapes.
    public func half(_ side: Side, of graph: Graph, types: [String: TensorType]) throws -> Graph {
        let nodeIndices = side == .edge ? edgeNodes : cloudNodes
        let nodes = nodeIndices.map { graph.nodes[$0] }
        var read = Set<String>()
        for node in nodes { for input in node.inputs where !input.isEmpty { read.insert(input) } }

        func info(_ name: String) throws -> ValueInfo {
            guard let type = types[name] else {
                throw CleaveError.badInput("tensor '\(name)' has no known type; run shape analysis first")
            }
            return ValueInfo(name: name, dtype: type.dtype, dims: type.shape.dims.map { .fixed($0) })
        }

        let constants = graph.constants
        var initializers: [Initializer] = []
        var seen = Set<String>()
        // Initializers first in file order, then Constant-node values in node order.
        for initializer in graph.initializers where read.contains(initializer.name) {
            initializers.append(initializer)
            seen.insert(initializer.name)
        }
        for node in graph.nodes where node.opType == "Constant" && node.domain.isEmpty {
            guard let name = node.outputs.first, read.contains(name), !seen.contains(name),
                  let tensor = constants[name] else { continue }
            initializers.append(Initializer(name: name, tensor: tensor))
            seen.insert(name)
        }

        let inputs: [ValueInfo]
        var outputs: [ValueInfo]
        switch side {
        case .edge:
            let boundarySet = Set(boundary)
            inputs = try graph.runtimeInputs.filter { read.contains($0.name) || boundarySet.contains($0.name) }.map { try info($0.name) }
            outputs = try boundary.map(info)
            outputs += try finalOutputs(.edge, of: graph).filter { !boundarySet.contains($0) }.map(info)
        case .cloud:
            inputs = try boundary.map(info)
            outputs = try finalOutputs(.cloud, of: graph).map(info)
        }

        var model = graph.model
        model.opaqueFields = []  // functions and training info describe the whole model
        var half = Graph(model: model, name: graph.name.isEmpty ? side.rawValue : "\(graph.name)_\(side.rawValue)",
                         inputs: inputs, outputs: outputs, initializers: initializers, nodes: nodes)
        if model.irVersion < 4 {
            // IR 3 requires every initializer to be declared as a graph input too.
            half.inputs += initializers.map { ValueInfo(name: $0.name, dtype: $0.tensor.dtype, dims: $0.tensor.shape.dims.map { .fixed($0) }) }
        }
        try half.validate()
        return half
    }

    /// The model outputs that `side` computes (for the edge: also model inputs
    /// that are model outputs).
    public func finalOutputs(_ side: Side, of graph: Graph) -> [String] {
        let producers = graph.producers
        let edgeSet = Set(edgeNodes)
        let runtimeInputs = Set(graph.runtimeInputs.map(\.name))
        return graph.outputs.map(\.name).filter { name in
            if let p = producers[name] {
                if graph.nodes[p].opType == "Constant" { return side == .cloud }
                return edgeSet.contains(p) == (side == .edge)
            }
            return runtimeInputs.contains(name) && side == .edge
        }
    }
}
