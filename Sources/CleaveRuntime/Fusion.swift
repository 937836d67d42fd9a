import CleaveIR

/// Nodes a session runs without a kernel of their own.
///
/// A Relu that is the only reader of a Conv's output runs in the Conv's
/// output loop, while the band it clamps is still in cache, and needs no
/// tensor of its own. A Constant node's value is resolved when the session is
/// built and stored with the weights. The planner predicts such nodes at no
/// cost, so this is the one place the rules live.
package enum Fusion {
    /// For every Conv whose output only a Relu reads (and that is not a graph
    /// output), the Relu's node index, keyed by the Conv's.
    package static func convRelus(in graph: Graph) -> [Int: Int] {
        var readers: [String: [Int]] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty { readers[input, default: []].append(index) }
        }
        let graphOutputs = Set(graph.outputs.map(\.name))
        var pairs: [Int: Int] = [:]
        for (index, node) in graph.nodes.enumerated() where node.op == .conv {
            guard node.outputs.count == 1, let output = node.outputs.first, !graphOutputs.contains(output),
                  let only = readers[output], only.count == 1, let relu = only.first,
                  graph.nodes[relu].op == .relu, relu > index else { continue }
            pairs[index] = relu
        }
        return pairs
    }

    /// Constant nodes with a value cleave can read, and that value.
    package static func constants(in graph: Graph) -> [(index: Int, output: String, value: Tensor)] {
        graph.nodes.enumerated().compactMap { index, node in
            guard node.op == .constant, let output = node.outputs.first, let value = node.constantValue else { return nil }
            return (index, output, value)
        }
    }

    /// Every node a session runs without a kernel of its own.
    package static func kernelless(in graph: Graph) -> Set<Int> {
        Set(convRelus(in: graph).values).union(constants(in: graph).map(\.index))
    }
}
