import CleaveIR

/// A graph being rewritten by a pass: fresh names, new weights, and at the
/// end the removal of weights nothing reads any more.
///
/// Passes never edit a weight in place (weights may be read-only spans of the
/// mapped model file, and may be shared by several nodes): each changed weight
/// is a new initializer under a fresh name, and `finish()` drops the old one
/// once no node reads it.
struct GraphEditor {
    var graph: Graph
    /// Initializers and Constant-node values, kept current as weights are added.
    private(set) var constants: [String: Tensor]
    private var usedNames: Set<String>
    /// Tensors whose shape a pass changed: their declared types are dropped.
    private var reshaped: Set<String> = []

    init(_ graph: Graph) {
        self.graph = graph
        constants = graph.constants
        var names = Set<String>()
        for info in graph.inputs + graph.outputs + graph.valueInfo { names.insert(info.name) }
        for initializer in graph.initializers { names.insert(initializer.name) }
        for node in graph.nodes {
            names.insert(node.name)
            for name in node.inputs + node.outputs { names.insert(name) }
        }
        usedNames = names
    }

    /// `base`, or `base_1`, `base_2`, … if it is taken by a tensor or node; reserved from then on.
    mutating func freshName(_ base: String) -> String {
        var candidate = base
        var suffix = 0
        while usedNames.contains(candidate) {
            suffix += 1
            candidate = "\(base)_\(suffix)"
        }
        usedNames.insert(candidate)
        return candidate
    }

    /// Also treats as constants the values `analysis` computed from constants
    /// (an Unsqueeze or Transpose of a weight, as some exporters write), so a
    /// pass can read them; a pass that rewrites such a value replaces it by an
    /// initializer, and `finish()` drops the nodes that computed it.
    mutating func include(_ analysis: Analysis) {
        for (name, value) in analysis.constants where constants[name] == nil { constants[name] = value }
    }

    /// Adds `tensor` as an initializer under a fresh name derived from `base`; returns the name.
    mutating func addWeight(_ base: String, _ tensor: Tensor) -> String {
        let name = freshName(base)
        graph.initializers.append(Initializer(name: name, tensor: tensor))
        constants[name] = tensor
        return name
    }

    /// The constant float32 value of `name`, if it is one.
    func floatConstant(_ name: String?) -> Tensor? {
        guard let name, let tensor = constants[name], tensor.dtype == .float else { return nil }
        return tensor
    }

    /// Indices of the nodes that read each tensor.
    var consumers: [String: [Int]] {
        var table: [String: [Int]] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty { table[input, default: []].append(index) }
        }
        return table
    }

    /// Records that `name` changed shape, so a stale `value_info` entry is not written back.
    mutating func changedShape(_ name: String) {
        reshaped.insert(name)
    }

    /// True when `name` is a graph output (so its shape and values must not change).
    func isGraphOutput(_ name: String) -> Bool {
        graph.outputs.contains { $0.name == name }
    }

    /// Drops nodes whose outputs nothing reads (a pass may have cut a chain
    /// that computed a weight), initializers nothing reads, keeps an IR 3
    /// model's graph inputs in step with its initializers, drops declared
    /// intermediate types of tensors that changed shape or no longer exist, and validates.
    mutating func finish() throws -> Graph {
        var read = Set<String>()
        var removed = true
        while removed {
            read = Set(graph.outputs.map(\.name))
            for node in graph.nodes { for input in node.inputs where !input.isEmpty { read.insert(input) } }
            let before = graph.nodes.count
            graph.nodes.removeAll { node in node.outputs.allSatisfy { $0.isEmpty || !read.contains($0) } }
            removed = graph.nodes.count < before
        }
        let before = Set(graph.initializers.map(\.name))
        graph.initializers.removeAll { !read.contains($0.name) }
        if graph.model.irVersion < 4 {
            // IR 3 lists every initializer among the inputs too.
            let kept = Set(graph.initializers.map(\.name))
            graph.inputs.removeAll { before.contains($0.name) && !kept.contains($0.name) }
            let declared = Set(graph.inputs.map(\.name))
            for initializer in graph.initializers where !declared.contains(initializer.name) {
                graph.inputs.append(ValueInfo(name: initializer.name, dtype: initializer.tensor.dtype,
                                              dims: initializer.tensor.shape.dims.map { .fixed($0) }))
            }
        }
        var written = Set<String>()
        for node in graph.nodes { for output in node.outputs { written.insert(output) } }
        graph.valueInfo.removeAll { !written.contains($0.name) || reshaped.contains($0.name) }
        try graph.validate()
        return graph
    }
}

extension Tensor {
    /// A new float32 tensor of `shape` whose elements `body` writes.
    static func floats(_ shape: Shape, _ body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows -> Tensor {
        let tensor = Tensor.uninitialized(.float, shape)
        try tensor.withUnsafeMutableBufferPointer(as: Float.self) { try body($0) }
        return tensor
    }
}
