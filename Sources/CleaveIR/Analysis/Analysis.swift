/// Shapes, analysis-time constants and costs of every value and node of a
/// graph: what `cleave inspect` prints and what compression and planning
/// build on.
///
/// Analysis reads only the metadata of weights (dtype and shape), except for
/// the few small constant tensors that feed shape computations, so it costs
/// time in proportion to the number of nodes, not to the model's size.
public struct Analysis: Sendable {
    public let graph: Graph
    /// Resolved dtype and concrete shape of every value (inputs, initializers, every node output).
    public var types: [String: TensorType]
    /// Values known at analysis time: initializers, Constant outputs, and results of folded shape-computing subgraphs.
    public var constants: [String: Tensor]
    /// Per node, aligned with graph.nodes.
    public var costs: [Cost]
    /// MACs and bytes summed over all nodes; `params` is the element count of
    /// every initializer and every Constant node's tensor, each counted once
    /// (the per-node params, plus initializers no node reads).
    public var totals: Cost

    /// Analyses `graph`.
    ///
    /// - Parameter inputShapes: fixes symbolic dims (`--input-shape NAME=1,3,224,224`).
    ///   A leading symbolic or unknown dim of a runtime input not listed here
    ///   is taken as 1 (the batch); any other must be given.
    /// - Throws: `CleaveError.usage` for an unresolved symbolic dim or an
    ///   `inputShapes` entry that does not fit the model; `CleaveError.badInput`
    ///   naming the node when a node's inputs or attributes do not fit its op,
    ///   a shape depends on a value only known at run time, or a node of an op
    ///   cleave does not know has no concrete declared output types.
    public init(graph: Graph, inputShapes: [String: Shape] = [:]) throws {
        self.graph = graph
        let inputs = try InputShapes(graph: graph, fixed: inputShapes)
        var types = inputs.types
        var constants: [String: Tensor] = [:]
        for initializer in graph.initializers {
            types[initializer.name] = initializer.tensor.type
            constants[initializer.name] = initializer.tensor
        }
        // Declared types, used only for nodes whose op cleave does not know.
        var declared: [String: ValueInfo] = [:]
        for info in graph.valueInfo + graph.outputs { declared[info.name] = info }

        // Constants not yet counted as some node's params.
        var unclaimed = Set(graph.initializers.map(\.name))
        var costs: [Cost] = []
        costs.reserveCapacity(graph.nodes.count)
        var totals = Cost.zero

        for (index, node) in graph.nodes.enumerated() {
            var inputTypes: [TensorType?] = []
            inputTypes.reserveCapacity(node.inputs.count)
            for name in node.inputs {
                if name.isEmpty {
                    inputTypes.append(nil)
                    continue
                }
                guard let type = types[name] else {
                    throw CleaveError.badInput("node \(graph.label(index)): input '\(name)' has no known type")
                }
                inputTypes.append(type)
            }

            var cost = Cost.zero
            let outputTypes: [TensorType]
            if let op = node.op {
                let context = NodeContext(node: node, op: op, index: index, opset: graph.opsetVersion,
                                          inputTypes: inputTypes, inputValues: node.inputs.map { constants[$0] })
                outputTypes = try context.inferOutputTypes()
                if let values = context.foldedOutputs(outputTypes) {
                    for (name, value) in zip(node.outputs, values) where !name.isEmpty { constants[name] = value }
                }
                cost.macs = context.macs(outputTypes)
            } else {
                outputTypes = try node.outputs.map { name in
                    guard !name.isEmpty else { return TensorType(.float, []) }
                    guard let info = declared[name], let type = inputs.resolve(info) else {
                        let domain = node.domain.isEmpty ? "" : "\(node.domain)."
                        throw CleaveError.badInput("node \(graph.label(index)): op \(domain)\(node.opType) is not supported and output '\(name)' has no declared type with concrete dims")
                    }
                    return type
                }
            }

            for (name, type) in zip(node.outputs, outputTypes) where !name.isEmpty {
                types[name] = type
                cost.bytesWritten = saturatingSum(cost.bytesWritten, type.byteCount)
            }
            for case let type? in inputTypes { cost.bytesRead = saturatingSum(cost.bytesRead, type.byteCount) }
            for name in node.inputs where unclaimed.remove(name) != nil {
                cost.params = saturatingSum(cost.params, constants[name]?.elementCount ?? 0)
            }
            if node.op == .constant, let output = node.outputs.first, !output.isEmpty {
                unclaimed.insert(output)
            }
            costs.append(cost)
            totals += cost
        }

        // Constant values nobody reads are their node's; unread initializers belong to no node.
        for (index, node) in graph.nodes.enumerated() where node.op == .constant {
            if let output = node.outputs.first, unclaimed.contains(output), let value = constants[output] {
                costs[index].params = saturatingSum(costs[index].params, value.elementCount)
                totals.params = saturatingSum(totals.params, value.elementCount)
                unclaimed.remove(output)
            }
        }
        for name in unclaimed { totals.params = saturatingSum(totals.params, constants[name]?.elementCount ?? 0) }

        self.types = types
        self.constants = constants
        self.costs = costs
        self.totals = totals
    }
}
