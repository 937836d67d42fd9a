import CleaveIR

/// Sets of tensors that must keep the same channels (axis 1) when a Conv's
/// filters are removed, found by following channels through the graph.
///
/// Channels flow unchanged through BatchNormalization, InstanceNormalization,
/// element-wise activations, pooling, Pad (not on the channel axis) and
/// depthwise Conv; element-wise ops with several activation inputs (residual
/// Add, gating Mul) tie their inputs' channels together, so every Conv that
/// feeds a residual stream loses the same channels. A group is prunable when
/// each of its tensors is written by a group-1 Conv with constant weights (a
/// "producer") or by one of those channel-preserving ops, and each reader is
/// such an op, a group-1 Conv (which then loses input channels), or a
/// Flatten/Reshape to [batch, features] feeding Gemm or MatMul with constant
/// weights (which lose the matching rows). Anything else (Concat, Shape,
/// Softmax, a graph output, …) blocks the group.
struct ChannelGroups {
    /// How a node is sliced when its group loses channels.
    enum Slice {
        /// Output channels of a Conv: rows of W and of the bias.
        case producer(node: Int)
        /// Input channels of a group-1 Conv: columns of W.
        case convInput(node: Int)
        /// A depthwise Conv: rows of W, bias, and `group`.
        case depthwise(node: Int)
        /// Per-channel constant inputs at these positions (BatchNormalization's
        /// statistics, InstanceNormalization's scale and bias, a PRelu slope,
        /// an Add/Mul operand), each along `axis` of the constant.
        case constants(node: Int, inputs: [(position: Int, axis: Int)])
        /// Gemm or MatMul reading a flattened group tensor: rows of its weight
        /// for features c·block ..< (c+1)·block. `reshape` is the Reshape node
        /// whose shape constant must be rewritten, if the flattening is a Reshape.
        case flattened(node: Int, block: Int, reshape: Int?)
    }

    struct Group {
        var tensors: [String] = []
        var channels = 0
        var slices: [Slice] = []
        var blocked: String?
        var producers: [Int] {
            slices.compactMap { if case .producer(let n) = $0 { return n } else { return nil } }
        }
    }

    private(set) var groups: [Group] = []

    init(graph: Graph, analysis: Analysis, constants: [String: Tensor]) {
        var sets = UnionFind()
        var slices: [(tensor: String, slice: Slice)] = []
        var blocked: [(tensor: String, reason: String)] = []
        var memberOutputs = Set<String>()
        let types = analysis.types
        let readers = Self.readers(graph)

        func channels(_ name: String) -> Int? {
            guard let shape = types[name]?.shape, shape.rank >= 3 else { return nil }
            return shape[1]
        }
        func isConstant(_ name: String?) -> Bool { name.map { constants[$0] != nil } ?? false }
        func block(_ names: [String], _ reason: String) {
            for name in names where channels(name) != nil && !isConstant(name) { blocked.append((name, reason)) }
        }
        func member(_ index: Int, _ node: Node, extra: Slice? = nil) {
            guard let x = node.input(0), let y = node.outputs.first else { return }
            sets.union(x, y)
            memberOutputs.insert(y)
            if let extra { slices.append((y, extra)) }
        }

        for (index, node) in graph.nodes.enumerated() {
            let label = "\(node.opType) \(graph.label(index))"
            let activationInputs = node.inputs.filter { !$0.isEmpty && !isConstant($0) }
            let extraOutputsUsed = node.outputs.dropFirst().contains { !$0.isEmpty && readers[$0] != nil }
            guard let op = node.op, !extraOutputsUsed else {
                block(activationInputs + node.outputs, "\(label) is not channel-preserving")
                continue
            }
            switch op {
            case .conv:
                let group = node.int("group") ?? 1
                guard let x = node.input(0), let y = node.outputs.first, let w = node.input(1).flatMap({ constants[$0] }), w.dtype == .float,
                      node.input(2).map({ constants[$0]?.dtype == .float }) ?? true, w.shape.rank >= 3
                else {
                    block(activationInputs + node.outputs, "\(label) has no constant float32 weights")
                    continue
                }
                if group == 1 {
                    slices.append((x, .convInput(node: index)))
                    slices.append((y, .producer(node: index)))
                } else if w.shape[1] == 1, channels(x) == group, w.shape[0] == group {
                    member(index, node, extra: .depthwise(node: index))
                } else {
                    block([x, y], "\(label) is a grouped convolution")
                }
            case .batchNormalization:
                guard (1...4).allSatisfy({ isConstant(node.input($0)) }) else {
                    block(activationInputs + node.outputs, "\(label) has non-constant statistics")
                    continue
                }
                member(index, node, extra: .constants(node: index, inputs: (1...4).map { ($0, 0) }))
            case .instanceNormalization:
                guard isConstant(node.input(1)), isConstant(node.input(2)) else {
                    block(activationInputs + node.outputs, "\(label) has non-constant scale or bias")
                    continue
                }
                member(index, node, extra: .constants(node: index, inputs: [(1, 0), (2, 0)]))
            case .relu, .leakyRelu, .elu, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .erf, .gelu, .sqrt, .exp, .log,
                 .neg, .abs, .reciprocal, .identity, .dropout, .clip, .maxPool, .averagePool, .globalAveragePool,
                 .globalMaxPool:
                if op == .clip, node.inputs.dropFirst().contains(where: { !$0.isEmpty && !isConstant($0) }) {
                    block(activationInputs + node.outputs, "\(label) has computed bounds")
                    continue
                }
                member(index, node)
            case .pad:
                let rank = node.input(0).flatMap { types[$0]?.shape.rank } ?? 0
                let pads = node.ints("pads") ?? node.input(1).flatMap { constants[$0]?.integerValues }
                guard let pads, pads.count == 2 * rank, rank >= 2, pads[1] == 0, pads[rank + 1] == 0,
                      node.input(3) == nil, node.input(1).map({ isConstant($0) }) ?? true
                else {
                    block(activationInputs + node.outputs, "\(label) may pad the channel axis")
                    continue
                }
                member(index, node)
            case .prelu, .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean:
                guard let y = node.outputs.first, let c = channels(y), let rank = types[y]?.shape.rank else {
                    block(activationInputs + node.outputs, "\(label) changes the channel layout")
                    continue
                }
                var perChannel: [(Int, Int)] = []
                var ok = true
                for (position, name) in node.inputs.enumerated() where !name.isEmpty {
                    if let value = constants[name] {
                        // Right-aligned broadcasting: which of the constant's axes meets axis 1?
                        let axis = value.shape.rank - (rank - 1)
                        if axis >= 0 && axis < value.shape.rank && value.shape[axis] != 1 {
                            if value.shape[axis] == c { perChannel.append((position, axis)) } else { ok = false }
                        }
                    } else if types[name]?.shape.rank != rank || channels(name) != c {
                        ok = false
                    }
                }
                guard ok else {
                    block(activationInputs + node.outputs, "\(label) broadcasts across channels")
                    continue
                }
                for name in activationInputs { sets.union(name, y) }
                memberOutputs.insert(y)
                if !perChannel.isEmpty { slices.append((y, .constants(node: index, inputs: perChannel))) }
            case .flatten, .reshape:
                guard let x = node.input(0), let y = node.outputs.first, let c = channels(x),
                      let inShape = types[x]?.shape, let outShape = types[y]?.shape, outShape.rank == 2,
                      outShape[0] == inShape[0], (op == .flatten ? (node.int("axis") ?? 1) == 1 : isConstant(node.input(1)))
                else {
                    block(activationInputs, "\(label) does not flatten to [batch, features]")
                    continue
                }
                let blockSize = inShape.elementCount / Swift.max(inShape[0] * c, 1)
                let linear = readers[y] ?? []
                let fits = !linear.isEmpty && !graph.outputs.contains { $0.name == y } && linear.allSatisfy { reader in
                    let r = graph.nodes[reader]
                    guard r.input(0) == y, !r.inputs.dropFirst().contains(y),
                          let w = r.input(1).flatMap({ constants[$0] }), w.dtype == .float, w.shape.rank == 2 else { return false }
                    if r.op == .gemm { return (r.int("transA") ?? 0) == 0 }
                    return r.op == .matMul
                }
                guard fits else {
                    block([x], "\(label) feeds something other than Gemm or MatMul weights")
                    continue
                }
                for reader in linear {
                    slices.append((x, .flattened(node: reader, block: blockSize, reshape: op == .reshape ? index : nil)))
                }
            default:
                block(activationInputs + node.outputs, "\(label) is not channel-preserving")
            }
        }
        for output in graph.outputs { block([output.name], "'\(output.name)' is a graph output") }

        // Gather the groups.
        var byRoot: [String: Int] = [:]
        var result: [Group] = []
        func groupIndex(_ tensor: String) -> Int {
            let root = sets.find(tensor)
            if let i = byRoot[root] { return i }
            byRoot[root] = result.count
            result.append(Group())
            return result.count - 1
        }
        var seen = Set<String>()
        for (tensor, slice) in slices {
            let i = groupIndex(tensor)
            result[i].slices.append(slice)
            if seen.insert(tensor).inserted { result[i].tensors.append(tensor) }
        }
        for name in sets.elements where seen.insert(name).inserted { result[groupIndex(name)].tensors.append(name) }
        for (tensor, reason) in blocked {
            let i = groupIndex(tensor)
            if result[i].blocked == nil { result[i].blocked = reason }
        }

        // Every tensor needs a known channel count, the same throughout, and a
        // producer or member op writing it.
        let producers = graph.producers
        for i in result.indices where result[i].blocked == nil {
            let counts = Set(result[i].tensors.map { channels($0) ?? -1 })
            let producerOutputs = Set(result[i].producers.compactMap { graph.nodes[$0].outputs.first })
            if counts.count != 1 || counts.contains(-1) {
                result[i].blocked = "tensors disagree on the channel count"
            } else if let stray = result[i].tensors.first(where: { !producerOutputs.contains($0) && !memberOutputs.contains($0) }) {
                let source = producers[stray].map { "\(graph.nodes[$0].opType) \(graph.label($0))" } ?? "a graph input"
                result[i].blocked = "channels of '\(stray)' come from \(source)"
            } else if result[i].producers.isEmpty {
                result[i].blocked = "no Conv produces these channels"
            }
            result[i].channels = counts.first ?? 0
        }
        groups = result
    }

    /// The nodes reading each tensor.
    private static func readers(_ graph: Graph) -> [String: [Int]] {
        var table: [String: [Int]] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty { table[input, default: []].append(index) }
        }
        return table
    }
}

/// Disjoint sets of tensor names (union by size, path halving).
struct UnionFind {
    private var parent: [String: String] = [:]
    private var size: [String: Int] = [:]
    private(set) var elements: [String] = []

    mutating func find(_ x: String) -> String {
        if parent[x] == nil {
            parent[x] = x
            size[x] = 1
            elements.append(x)
        }
        var node = x
        while let p = parent[node], p != node {
            let grand = parent[p] ?? p
            parent[node] = grand
            node = grand
        }
        return node
    }

    mutating func union(_ a: String, _ b: String) {
        let ra = find(a), rb = find(b)
        guard ra != rb else { return }
        let (small, large) = (size[ra] ?? 1) < (size[rb] ?? 1) ? (ra, rb) : (rb, ra)
        parent[small] = large
        size[large, default: 1] += size[small] ?? 1
    }
}
