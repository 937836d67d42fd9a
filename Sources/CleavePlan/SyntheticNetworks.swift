import CleaveIR

/// Whole networks, generated, for the second stage of a profile: how much
/// slower a node runs inside a model than alone (see `DeviceProfile.ContextModel`).
///
/// Three families:
/// - *large*: chains of stages as the light models have them — Conv (1×1,
///   3×3, 5×5, 7×7 or 11×11), BatchNormalization, Relu, pooling, residual
///   Add, two-branch Concat — on an input of 56 to 224 pixels, ending in
///   global pooling and a classifier, or in VGG's flatten and wide fully
///   connected layers. Every one is larger than the last-level cache, so its
///   activations and weights stream from DRAM.
/// - *medium*: the same stages on 28 or 56 pixels and narrow channels, which
///   stay in the cache; at several threads a layer reads what a layer split
///   across the cores wrote.
/// - *small*: 24 to 64 nodes of many different ops on tensors of a few
///   hundred values, like the fixtures: everything stays cached, but each
///   node's code and branches compete with the others'.
enum SyntheticNetworks {
    static func specs(quick: Bool) -> [LayerSpec] {
        large(count: quick ? 4 : 16) + medium(count: quick ? 2 : 16) + small(count: quick ? 4 : 12)
    }

    /// Small networks of shape-preserving ops on [1, C, S, S].
    static func small(count: Int) -> [LayerSpec] {
        var random = SplitMix64(seed: 0x736D_616C_6C)  // "small"
        return (0..<count).map { index in
            let channels = [4, 8, 16][index % 3], size = [4, 8, 16][(index / 3) % 3]
            let length = 24 + Int(random.next() % 41)
            let choices = (0..<length).map { _ in random.next() }
            return LayerSpec(kind: .binary) {
                let net = NetworkBuilder(input: [1, channels, size, size])
                var earlier = [net.current]
                for choice in choices {
                    switch choice % 16 {
                    case 0: net.unary("Relu")
                    case 1: net.unary("Sigmoid")
                    case 2: net.unary("Tanh")
                    case 3: net.unary("Abs")
                    case 4: net.unary("LeakyRelu")
                    case 5, 6: net.binary(choice % 2 == 0 ? "Add" : "Mul", earlier[Int((choice >> 8) % UInt64(earlier.count))])
                    case 7: net.binary("Max", earlier[Int((choice >> 8) % UInt64(earlier.count))])
                    case 8: net.conv(out: channels, kernel: (choice >> 8) % 2 == 0 ? 3 : 1, stride: 1)
                    case 9: net.batchNorm()
                    case 10: net.maxPool(kernel: 3, stride: 1, pad: 1)
                    case 11: net.averagePool(kernel: 3, stride: 1, pad: 1)
                    case 12: net.transpose([0, 1, 3, 2])
                    case 13: net.softmax()
                    case 14: net.unary("Identity")
                    default: net.unary("Clip")
                    }
                    earlier.append(net.current)
                }
                return net.build(name: "small network \(index)")
            }
        }
    }

    /// Large networks, too big for the cache.
    static func large(count: Int) -> [LayerSpec] {
        var random = SplitMix64(seed: 0x6E_6574_776F_726B)  // "network"
        return (0..<count).map { index in
            let size = [224, 112, 56, 224][index % 4]
            let width = random.pick([16, 24, 32, 48, 64])
            let stages = random.pick([3, 4, 5])
            let classifier = index % 3 == 2 ? Classifier.wide : .pooled
            let choices = (0..<stages * 3).map { _ in random.next() }
            return LayerSpec(kind: .conv) {
                build(size: size, width: width, stages: stages, classifier: classifier, choices: choices, name: "network \(index)")
            }
        }
    }

    /// Medium networks, which stay in the cache, with layers as wide as
    /// SqueezeNet's and ShuffleNet's.
    static func medium(count: Int) -> [LayerSpec] {
        var random = SplitMix64(seed: 0x6D_6564_6975_6D)  // "medium"
        return (0..<count).map { index in
            let size = [56, 28][index % 2]
            let width = random.pick([16, 24, 32, 48])
            let stages = random.pick([3, 4])
            let choices = (0..<stages * 3).map { _ in random.next() }
            return LayerSpec(kind: .conv) {
                build(size: size, width: width, stages: stages, classifier: .pooled, choices: choices, name: "medium network \(index)")
            }
        }
    }

    enum Classifier { case pooled, wide }

    /// A network of `stages` stages; `choices` (3 per stage) pick each stage's layers.
    static func build(size: Int, width: Int, stages: Int, classifier: Classifier, choices: [UInt64], name: String) -> LayerCase {
        let net = NetworkBuilder(input: [1, 3, size, size])
        net.conv(out: width, kernel: size >= 112 ? 7 : 3, stride: size >= 112 ? 2 : 1)
        net.batchNorm()
        net.relu()
        if size >= 112 { net.maxPool(kernel: 3, stride: 2) }
        var channels = width
        for stage in 0..<stages {
            let pick = choices[stage * 3], branch = choices[stage * 3 + 1], pool = choices[stage * 3 + 2]
            switch pick % 4 {
            case 0:  // VGG: two 3×3 convs
                net.conv(out: channels, kernel: 3, stride: 1); net.relu()
                net.conv(out: channels, kernel: 3, stride: 1); net.relu()
            case 1:  // ResNet bottleneck with a skip connection
                let skip = net.current
                net.conv(out: channels / 2, kernel: 1, stride: 1); net.batchNorm(); net.relu()
                net.conv(out: channels / 2, kernel: 3, stride: 1); net.batchNorm(); net.relu()
                net.conv(out: channels, kernel: 1, stride: 1); net.batchNorm()
                net.add(skip); net.relu()
            case 2:  // Inception: 1×1 and 5×5 branches, concatenated
                let start = net.current
                net.conv(out: channels / 2, kernel: 1, stride: 1); net.relu()
                let left = net.current
                net.current = start
                net.conv(out: channels / 2, kernel: branch % 2 == 0 ? 5 : 3, stride: 1); net.relu()
                net.concat(left)
            default:  // AlexNet-like large kernel with LRN
                net.conv(out: channels, kernel: branch % 2 == 0 ? 5 : 11, stride: 1); net.relu(); net.lrn()
            }
            if pool % 3 != 0, net.current.shape[2] >= 14 {
                if pool % 3 == 1 { net.maxPool(kernel: 2, stride: 2) } else { net.averagePool(kernel: 3, stride: 2) }
                channels = Swift.min(512, channels * 2)
                net.conv(out: channels, kernel: 1, stride: 1); net.relu()
            }
        }
        switch classifier {
        case .pooled:
            net.globalAveragePool()
            net.flatten()
            net.gemm(out: 1000)
        case .wide:
            while net.current.shape[2] > 7 { net.maxPool(kernel: 2, stride: 2) }
            net.flatten()
            let hidden = net.current.shape[1] > 10_000 ? 2048 : 4096
            net.gemm(out: hidden); net.relu()
            net.gemm(out: hidden); net.relu()
            net.gemm(out: 1000)
        }
        net.softmax()
        return net.build(name: name)
    }
}

/// Appends layers to a chain, keeping track of the current tensor and its shape.
final class NetworkBuilder {
    struct Value {
        var name: String
        var shape: [Int]
    }

    private let data = CaseBuilder()
    private var nodes: [Node] = []
    var current: Value

    init(input: [Int]) {
        current = Value(name: data.activation(input), shape: input)
    }

    private func append(_ op: String, _ inputs: [String], shape: [Int], attributes: [Attribute] = []) {
        let output = "t\(nodes.count)"
        nodes.append(Node(name: "\(op.lowercased())_\(nodes.count)", opType: op, inputs: inputs, outputs: [output], attributes: attributes))
        current = Value(name: output, shape: shape)
    }

    func conv(out: Int, kernel: Int, stride: Int) {
        let (c, h) = (current.shape[1], current.shape[2])
        let size = (h + 2 * (kernel / 2) - kernel) / stride + 1
        append("Conv", [current.name, data.weight([out, c, kernel, kernel]), data.weight([out])], shape: [1, out, size, size], attributes: [
            .ints("kernel_shape", [kernel, kernel]), .ints("strides", [stride, stride]), .ints("pads", Array(repeating: kernel / 2, count: 4))])
    }

    func batchNorm() {
        let c = current.shape[1]
        append("BatchNormalization", [current.name, data.weight([c]), data.weight([c]), data.weight([c]), data.positiveWeight([c])], shape: current.shape)
    }

    func relu() { append("Relu", [current.name], shape: current.shape) }

    func lrn() {
        append("LRN", [current.name], shape: current.shape, attributes: [.int("size", 5), .float("alpha", 1e-4), .float("beta", 0.75)])
    }

    func maxPool(kernel: Int, stride: Int, pad: Int = 0) { pool("MaxPool", kernel: kernel, stride: stride, pad: pad) }

    func averagePool(kernel: Int, stride: Int, pad: Int = 0) { pool("AveragePool", kernel: kernel, stride: stride, pad: pad) }

    private func pool(_ op: String, kernel: Int, stride: Int, pad: Int) {
        let size = (current.shape[2] + 2 * pad - kernel) / stride + 1
        append(op, [current.name], shape: [1, current.shape[1], size, size],
               attributes: [.ints("kernel_shape", [kernel, kernel]), .ints("strides", [stride, stride]),
                            .ints("pads", [pad, pad, pad, pad])])
    }

    /// A one-input op that keeps the shape.
    func unary(_ op: String) { append(op, [current.name], shape: current.shape) }

    /// A two-input op with an earlier value of the same shape.
    func binary(_ op: String, _ other: Value) { append(op, [current.name, other.name], shape: current.shape) }

    /// A Transpose of a square [N, C, S, S] tensor, which keeps the shape.
    func transpose(_ perm: [Int]) { append("Transpose", [current.name], shape: current.shape, attributes: [.ints("perm", perm)]) }

    func add(_ other: Value) { append("Add", [current.name, other.name], shape: current.shape) }

    func concat(_ other: Value) {
        var shape = current.shape
        shape[1] += other.shape[1]
        append("Concat", [other.name, current.name], shape: shape, attributes: [.int("axis", 1)])
    }

    func globalAveragePool() { append("GlobalAveragePool", [current.name], shape: [1, current.shape[1], 1, 1]) }

    func flatten() { append("Flatten", [current.name], shape: [1, current.shape.dropFirst().reduce(1, *)]) }

    func gemm(out: Int) {
        let k = current.shape[1]
        append("Gemm", [current.name, data.weight([out, k]), data.weight([out])], shape: [1, out], attributes: [.int("transB", 1)])
    }

    func softmax() { append("Softmax", [current.name], shape: current.shape, attributes: [.int("axis", 1)]) }

    func build(name: String) -> LayerCase {
        var layer = data.build(.conv, nodes[0])
        layer.graph.name = name
        layer.graph.nodes = nodes
        layer.graph.outputs = [ValueInfo(name: current.name, dtype: nil, dims: nil)]
        return layer
    }
}
