import CleaveIR

/// One configuration the profiler measures: a one-node graph and its inputs,
/// built only when it is about to run (the largest weigh hundreds of MB).
struct LayerCase {
    var kind: OpKind
    var graph: Graph
    var feeds: [String: Tensor]
}

/// A configuration not built yet.
struct LayerSpec {
    var kind: OpKind
    var make: () throws -> LayerCase
}

/// The configurations measured per op kind. They span the layers real CNNs
/// have at batch 1 (the shapes of AlexNet, VGG, ResNet, Inception, DenseNet,
/// SqueezeNet and ShuffleNet layers lie inside each range), drawn from a
/// seeded generator so every profile measures the same set. `quick` draws
/// a sixth as many, with smaller upper bounds.
enum Sweep {
    static func specs(quick: Bool) -> [LayerSpec] {
        var random = SplitMix64(seed: 0x636C_6561_7665)  // "cleave"
        var specs: [LayerSpec] = []
        func count(_ base: Int) -> Int { quick ? Swift.max(4, base / 3) : 2 * base }
        /// Calls `body` with 0, 1, 2, … until it added `target` specs; a body
        /// that returns without adding one drew a configuration over a size limit.
        func draw(_ target: Int, _ body: (Int) -> Void) {
            let start = specs.count
            var index = 0
            while specs.count - start < target && index < 100 * target {
                body(index)
                index += 1
            }
        }
        let macCap = quick ? 4e8 : 3e9
        // Outputs stay under glibc's 32 MiB mmap threshold (see Profiler.configureAllocator).
        let elementCap = quick ? 2_000_000 : 6_000_000
        // Memory-bound ops up to VGG's largest activation (64×224×224).
        let streamCap = quick ? 1_000_000 : 3_300_000

        // MARK: Conv through im2col: kernel, stride, channels, spatial size, groups.
        var anchors: [ConvConfig] = [
            ConvConfig(cin: 3, cout: 64, size: 224, kernel: 11, stride: 4),   // AlexNet conv1
            ConvConfig(cin: 64, cout: 64, size: 56, kernel: 3, stride: 1),    // ResNet stage 1
            ConvConfig(cin: 512, cout: 512, size: 14, kernel: 3, stride: 1),  // VGG conv5
            ConvConfig(cin: 128, cout: 32, size: 28, kernel: 3, stride: 1),   // DenseNet growth layer
            ConvConfig(cin: 256, cout: 512, size: 28, kernel: 1, stride: 2),  // ResNet downsample
            // Small CNNs (CIFAR- and MNIST-sized inputs), where the fixed costs dominate.
            ConvConfig(cin: 3, cout: 8, size: 32, kernel: 3, stride: 1),
            ConvConfig(cin: 8, cout: 8, size: 16, kernel: 3, stride: 1),
            ConvConfig(cin: 32, cout: 64, size: 8, kernel: 3, stride: 1),
        ]
        if !quick {
            anchors += [ConvConfig(cin: 64, cout: 64, size: 224, kernel: 3, stride: 1),  // VGG conv1_2
                        ConvConfig(cin: 3, cout: 64, size: 224, kernel: 7, stride: 2),   // ResNet stem
                        ConvConfig(cin: 48, cout: 128, size: 27, kernel: 5, stride: 1, group: 2)]
        }
        var convs = anchors
        while convs.count < count(64) {
            let kernel = random.pick([1, 3, 3, 3, 3, 5, 7, 11])
            let stride = kernel == 1 ? 2 : kernel == 11 ? 4 : kernel == 7 ? 2 : random.pick([1, 1, 1, 2])
            let group = random.pick([1, 1, 1, 1, 1, 1, 2, 4])
            let cin = random.pick([3, 4, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512])
            let cout = random.pick([4, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512])
            let size = random.pick([7, 8, 13, 14, 16, 27, 28, 32, 56, 112, 224])
            let config = ConvConfig(cin: cin, cout: cout, size: size, kernel: kernel, stride: stride, group: group)
            guard size >= kernel, cin % group == 0, config.cout % group == 0, config.cout * config.output * config.output <= elementCap,
                  (1e5...macCap).contains(config.macs) else { continue }
            convs.append(config)
        }
        specs += convs.map { config in LayerSpec(kind: config.kind) { config.build() } }

        // MARK: 1×1 convolutions, with groups as ShuffleNet uses them.
        var pointwise: [ConvConfig] = [ConvConfig(cin: 256, cout: 64, size: 56, kernel: 1, stride: 1),
                                       ConvConfig(cin: 240, cout: 60, size: 28, kernel: 1, stride: 1, group: 3)]
        while pointwise.count < count(32) {
            let group = random.pick([1, 1, 1, 1, 2, 3, 4])
            let cin = group == 3 ? random.pick([60, 120, 240, 480, 960]) : random.pick([4, 8, 16, 32, 64, 96, 128, 256, 512, 1024])
            let cout = group == 3 ? random.pick([60, 120, 240, 480]) : random.pick([4, 8, 16, 32, 64, 128, 256, 512, 1024])
            let size = random.pick([4, 7, 8, 14, 16, 28, 56, 112])
            let config = ConvConfig(cin: cin, cout: cout, size: size, kernel: 1, stride: 1, group: group)
            guard cin % group == 0, cout % group == 0, cout * size * size <= elementCap, (1e4...macCap).contains(config.macs) else { continue }
            pointwise.append(config)
        }
        specs += pointwise.map { config in LayerSpec(kind: config.kind) { config.build() } }

        // MARK: Depthwise convolutions.
        // Anchors from small networks (a MobileNet block on a CIFAR-sized
        // input), where the fixed costs dominate; the random draw is unchanged.
        let depthwiseAnchors = [ConvConfig(cin: 8, cout: 8, size: 16, kernel: 3, stride: 1, group: 8),
                                ConvConfig(cin: 16, cout: 16, size: 8, kernel: 3, stride: 2, group: 16)]
        var depthwise = depthwiseAnchors
        while depthwise.count < depthwiseAnchors.count + count(20) {
            let channels = random.pick([16, 32, 60, 64, 120, 128, 240, 256, 480, 512, 960])
            let size = random.pick([7, 14, 28, 56, 112])
            let kernel = random.pick([3, 3, 3, 5])
            let config = ConvConfig(cin: channels, cout: channels, size: size, kernel: kernel,
                                    stride: random.pick([1, 1, 2]), group: channels)
            guard size >= kernel, Double(channels * size * size) <= Double(elementCap) else { continue }
            depthwise.append(config)
        }
        specs += depthwise.map { config in LayerSpec(kind: config.kind) { config.build() } }

        // MARK: ConvTranspose (upsampling decoders).
        draw(count(10)) { _ in
            let cin = random.pick([8, 16, 32, 64, 128]), cout = random.pick([8, 16, 32, 64])
            let size = random.pick([7, 14, 28, 56]), kernel = random.pick([2, 3, 4])
            specs.append(LayerSpec(kind: .convTranspose) {
                let b = CaseBuilder()
                let x = b.activation([1, cin, size, size])
                let w = b.weight([cin, cout, kernel, kernel])
                return b.build(.convTranspose, Node(name: "n", opType: "ConvTranspose", inputs: [x, w, b.weight([cout])], outputs: ["y"],
                                                    attributes: [.ints("strides", [2, 2]), .ints("kernel_shape", [kernel, kernel])]))
            })
        }

        // MARK: Gemm and MatMul, from batch-1 classifiers (weight-bound) to matrix products.
        var gemms: [GemmConfig] = [GemmConfig(m: 1, k: 9216, n: 4096, transB: true), GemmConfig(m: 1, k: 2048, n: 1000, transB: true),
                                   GemmConfig(m: 1, k: 4096, n: 4096, transB: false)]
        if !quick { gemms += [GemmConfig(m: 1, k: 25088, n: 4096, transB: true), GemmConfig(m: 1, k: 1024, n: 1000, transB: false)] }
        let weightCap = quick ? 64e6 : 450e6
        while gemms.count < count(36) {
            let config = GemmConfig(m: random.pick([1, 1, 1, 1, 2, 8, 32, 128, 196]),
                                    k: random.pick([64, 128, 256, 512, 1024, 2048, 4096, 9216, 25088]),
                                    n: random.pick([10, 100, 256, 512, 1000, 1024, 4096]),
                                    transB: random.pick([true, false]), matMul: random.pick([false, false, false, true]))
            guard Double(config.k * config.n * 4) <= weightCap, Double(config.m * config.k * config.n) <= macCap else { continue }
            gemms.append(config)
        }
        specs += gemms.map { config in LayerSpec(kind: config.kind) { config.build() } }

        // MARK: Pooling.
        draw(count(20)) { index in
            let kernel = index == 0 ? 3 : random.pick([2, 3, 3])
            let stride = index == 0 ? 1 : random.pick([1, 2, 2])
            let channels = random.pick([4, 8, 16, 64, 96, 192, 256, 480, 512, 832])
            let size = random.pick([7, 8, 14, 16, 28, 32, 56, 112])
            guard channels * size * size <= elementCap else { return }
            let pad = stride == 1 ? kernel / 2 : 0
            specs.append(LayerSpec(kind: .maxPool) {
                let b = CaseBuilder()
                let x = b.activation([1, channels, size, size])
                return b.build(.maxPool, Node(name: "n", opType: "MaxPool", inputs: [x], outputs: ["y"], attributes: [
                    .ints("kernel_shape", [kernel, kernel]), .ints("strides", [stride, stride]), .ints("pads", [pad, pad, pad, pad])]))
            })
        }
        draw(count(16)) { index in
            let channels = random.pick([64, 128, 256, 512, 1024, 2048])
            let size = index < 2 ? 7 : random.pick([7, 14, 28, 56])
            let kernel = index < 2 ? 7 : random.pick([2, 3, 5])
            let stride = index < 2 ? 1 : random.pick([1, 2, 3])
            guard channels * size * size <= elementCap, size >= kernel else { return }
            let pad = stride == 1 && kernel == 3 ? 1 : 0
            specs.append(LayerSpec(kind: .averagePool) {
                let b = CaseBuilder()
                let x = b.activation([1, channels, size, size])
                return b.build(.averagePool, Node(name: "n", opType: "AveragePool", inputs: [x], outputs: ["y"], attributes: [
                    .ints("kernel_shape", [kernel, kernel]), .ints("strides", [stride, stride]), .ints("pads", [pad, pad, pad, pad])]))
            })
        }

        // MARK: Reductions and normalisations.
        for kind in [OpKind.globalAveragePool, .reduce] {
            draw(count(10)) { index in
                let channels = random.pick([64, 256, 512, 1024, 2048]), size = random.pick([1, 7, 14, 28, 56])
                let op = kind == .globalAveragePool ? "GlobalAveragePool" : ["GlobalMaxPool", "ReduceMean", "ReduceMax"][index % 3]
                guard channels * size * size <= streamCap else { return }
                specs.append(LayerSpec(kind: kind) {
                    let b = CaseBuilder()
                    let x = b.activation([1, channels, size, size])
                    let attributes: [Attribute] = op.hasPrefix("Reduce") ? [.ints("axes", [2, 3])] : []
                    return b.build(kind, Node(name: "n", opType: op, inputs: [x], outputs: ["y"], attributes: attributes), opset: 13)
                })
            }
        }
        draw(count(16)) { _ in
            let channels = random.pick([16, 64, 128, 256, 512, 1024]), size = random.pick([7, 14, 28, 56, 112])
            guard channels * size * size <= streamCap else { return }
            specs.append(LayerSpec(kind: .normalization) {
                let b = CaseBuilder()
                let x = b.activation([1, channels, size, size])
                let inputs = [x, b.weight([channels]), b.weight([channels]), b.weight([channels]), b.positiveWeight([channels])]
                return b.build(.normalization, Node(name: "n", opType: "BatchNormalization", inputs: inputs, outputs: ["y"]))
            })
        }
        draw(count(8)) { _ in
            let channels = random.pick([3, 16, 64, 256]), size = random.pick([7, 14, 28, 56, 112])
            guard channels * size * size <= streamCap else { return }
            specs.append(LayerSpec(kind: .instanceNorm) {
                let b = CaseBuilder()
                let x = b.activation([1, channels, size, size])
                return b.build(.instanceNorm, Node(name: "n", opType: "InstanceNormalization", inputs: [x, b.weight([channels]), b.weight([channels])], outputs: ["y"]))
            })
        }
        draw(count(10)) { _ in
            let channels = random.pick([16, 64, 96, 192, 256]), size = random.pick([13, 27, 28, 56])
            guard channels * size * size <= streamCap else { return }
            specs.append(LayerSpec(kind: .lrn) {
                let b = CaseBuilder()
                let x = b.activation([1, channels, size, size])
                return b.build(.lrn, Node(name: "n", opType: "LRN", inputs: [x], outputs: ["y"], attributes: [
                    .int("size", 5), .float("alpha", 1e-4), .float("beta", 0.75), .float("bias", 1)]))
            })
        }
        draw(count(10)) { index in
            let shape = index % 2 == 0 ? [1, random.pick([10, 100, 1000, 10000, 100000])]
                : [1, random.pick([8, 64, 256]), random.pick([7, 14, 28]), random.pick([7, 14, 28])]
            specs.append(LayerSpec(kind: .softmax) {
                let b = CaseBuilder()
                let x = b.activation(shape)
                return b.build(.softmax, Node(name: "n", opType: ["Softmax", "Softmax", "LogSoftmax"][index % 3],
                                              inputs: [x], outputs: ["y"], attributes: [.int("axis", 1)]))
            })
        }

        // MARK: Element-wise maps and broadcasting arithmetic.
        func elements(_ generator: inout SplitMix64) -> [Int] {
            let channels = generator.pick([8, 16, 32, 64, 128, 256, 512, 1024])
            let size = generator.pick([1, 7, 14, 28, 56, 112, 224])
            return [1, channels, size, size]
        }
        draw(count(20)) { index in
            let shape = elements(&random)
            guard shape.reduce(1, *) <= streamCap else { return }
            let op = ["Relu", "Relu", "LeakyRelu", "Clip", "Neg", "HardSwish", "HardSigmoid", "Abs", "Pow"][index % 9]
            specs.append(LayerSpec(kind: .activation) {
                let b = CaseBuilder()
                let x = b.activation(shape)
                let inputs = switch op {
                case "Clip": [x, b.floats([0], shape: []), b.floats([6], shape: [])]  // ReLU6 as exporters write it
                case "Pow": [x, b.floats([2], shape: [])]  // squared without powf
                default: [x]
                }
                return b.build(.activation, Node(name: "n", opType: op, inputs: inputs, outputs: ["y"]))
            })
        }
        draw(count(8)) { index in
            let shape = elements(&random)
            guard shape.reduce(1, *) <= streamCap / 2 else { return }
            specs.append(LayerSpec(kind: .quantize) {
                let b = CaseBuilder()
                let perAxis = index % 4 >= 2
                let scale = perAxis ? b.floats([Float](repeating: 0.02, count: shape[1])) : b.floats([0.02], shape: [])
                let quantize = index % 2 == 0
                let x = quantize ? b.activation(shape) : b.byteActivation(shape)
                return b.build(.quantize, Node(name: "n", opType: quantize ? "QuantizeLinear" : "DequantizeLinear", inputs: [x, scale],
                                               outputs: ["y"], attributes: perAxis ? [.int("axis", 1)] : []))
            })
        }
        draw(count(14)) { index in
            let shape = elements(&random)
            guard shape.reduce(1, *) <= streamCap / 2 else { return }
            let op = ["Sigmoid", "Tanh", "Exp", "Erf", "Sqrt", "Elu", "Log", "Pow"][index % 8]
            specs.append(LayerSpec(kind: .transcendental) {
                let b = CaseBuilder()
                let x = ["Sqrt", "Log", "Pow"].contains(op) ? b.positiveActivation(shape) : b.activation(shape)
                let inputs = op == "Pow" ? [x, b.floats([1.5], shape: [])] : [x]  // an exponent that takes powf
                return b.build(.transcendental, Node(name: "n", opType: op, inputs: inputs, outputs: ["y"]))
            })
        }
        draw(count(32)) { index in
            let shape = elements(&random)
            guard shape.reduce(1, *) <= streamCap else { return }
            specs.append(LayerSpec(kind: .binary) {
                let b = CaseBuilder()
                let x = b.activation(shape)
                switch index % 8 {
                case 6: return b.build(.binary, Node(name: "n", opType: ["Max", "Mean", "Min"][index % 3], inputs: [x, b.activation(shape), b.activation(shape)], outputs: ["y"]))
                case 7: return b.build(.binary, Node(name: "n", opType: "PRelu", inputs: [x, b.weight([shape[1], 1, 1])], outputs: ["y"]))
                case 0, 1: return b.build(.binary, Node(name: "n", opType: index % 2 == 0 ? "Add" : "Sum", inputs: [x, b.activation(shape)], outputs: ["y"]))
                case 2: return b.build(.binary, Node(name: "n", opType: "Mul", inputs: [x, b.weight([shape[1], 1, 1])], outputs: ["y"]))
                case 3: return b.build(.binary, Node(name: "n", opType: "Add", inputs: [x, b.weight([shape[1], 1, 1])], outputs: ["y"]))
                case 4: return b.build(.binary, Node(name: "n", opType: "Sum", inputs: [x, b.activation(shape), b.activation(shape)], outputs: ["y"]))
                default: return b.build(.binary, Node(name: "n", opType: "Div", inputs: [x, b.weight([])], outputs: ["y"]))
                }
            })
        }

        // MARK: Copies, transposes, resizing and reshapes.
        draw(count(20)) { index in
            let shape = elements(&random)
            guard shape.reduce(1, *) <= streamCap / 4, shape[1] >= 8 else { return }
            specs.append(LayerSpec(kind: .copy) {
                let b = CaseBuilder()
                let x = b.activation(shape)
                switch index % 5 {
                case 0, 1:
                    let parts = [x] + (0..<(index % 2 == 0 ? 1 : 3)).map { _ in b.activation(shape) }
                    return b.build(.copy, Node(name: "n", opType: "Concat", inputs: parts, outputs: ["y"], attributes: [.int("axis", 1)]))
                case 2:
                    let half = shape[1] / 2
                    return b.build(.copy, Node(name: "n", opType: "Slice", inputs: [x, b.ints([0]), b.ints([half]), b.ints([1])], outputs: ["y"]))
                case 3:
                    return b.build(.copy, Node(name: "n", opType: "Split", inputs: [x], outputs: ["y", "z"], attributes: [.int("axis", 1)]))
                default:
                    return b.build(.copy, Node(name: "n", opType: "Concat", inputs: [x, b.activation([1, 8] + shape.dropFirst(2))],
                                               outputs: ["y"], attributes: [.int("axis", 1)]))
                }
            })
        }
        draw(count(8)) { _ in
            let shape = elements(&random)
            guard shape.reduce(1, *) <= streamCap / 2, shape[2] > 1 else { return }
            specs.append(LayerSpec(kind: .pad) {
                let b = CaseBuilder()
                let x = b.activation(shape)
                return b.build(.pad, Node(name: "n", opType: "Pad", inputs: [x, b.ints([0, 0, 1, 1, 0, 0, 1, 1])], outputs: ["y"]))
            })
        }
        draw(count(12)) { _ in
            let groups = random.pick([2, 3, 4, 8]), perGroup = random.pick([8, 30, 60, 120])
            let size = random.pick([7, 14, 28, 56])
            guard groups * perGroup * size * size <= streamCap else { return }
            let shuffle = random.pick([true, true, false])
            specs.append(LayerSpec(kind: .transpose) {
                let b = CaseBuilder()
                if shuffle {
                    let x = b.activation([1, groups, perGroup, size, size])
                    return b.build(.transpose, Node(name: "n", opType: "Transpose", inputs: [x], outputs: ["y"], attributes: [.ints("perm", [0, 2, 1, 3, 4])]))
                }
                let x = b.activation([1, groups * perGroup, size, size])
                return b.build(.transpose, Node(name: "n", opType: "Transpose", inputs: [x], outputs: ["y"], attributes: [.ints("perm", [0, 2, 3, 1])]))
            })
        }
        draw(count(8)) { index in
            let channels = random.pick([8, 16, 64, 128]), size = random.pick([7, 14, 28, 56])
            let mode = index % 2 == 0 ? "nearest" : "linear"
            specs.append(LayerSpec(kind: .resize) {
                let b = CaseBuilder()
                let x = b.activation([1, channels, size, size])
                let scales = b.floats([1, 1, 2, 2])
                return b.build(.resize, Node(name: "n", opType: "Resize", inputs: [x, "", scales], outputs: ["y"], attributes: [.string("mode", mode)]))
            })
        }
        draw(count(10)) { index in
            let shape = elements(&random)
            specs.append(LayerSpec(kind: .reshape) {
                let b = CaseBuilder()
                let x = b.activation(shape)
                switch index % 4 {
                case 0: return b.build(.reshape, Node(name: "n", opType: "Reshape", inputs: [x, b.ints([1, -1])], outputs: ["y"]))
                case 1: return b.build(.reshape, Node(name: "n", opType: "Flatten", inputs: [x], outputs: ["y"]))
                case 2: return b.build(.reshape, Node(name: "n", opType: "Unsqueeze", inputs: [x, b.ints([0])], outputs: ["y"]))
                default: return b.build(.reshape, Node(name: "n", opType: "Dropout", inputs: [x], outputs: ["y"]))
                }
            })
        }
        return specs
    }
}

// MARK: - Configurations

struct ConvConfig {
    var cin, cout, size, kernel, stride: Int
    var group = 1

    var output: Int { (size + 2 * (kernel / 2) - kernel) / stride + 1 }

    /// The kind the runtime's choice of method gives this Conv (see `OpKind.of`).
    var kind: OpKind {
        if kernel == 1 && stride == 1 { return .convPointwise }
        return group > 1 && group == cin ? .convDepthwise : .conv
    }
    var macs: Double { Double(cout) * Double(output * output) * Double(cin / group * kernel * kernel) }

    func build() -> LayerCase {
        let b = CaseBuilder()
        let x = b.activation([1, cin, size, size])
        let w = b.weight([cout, cin / group, kernel, kernel])
        let pad = kernel / 2
        return b.build(kind, Node(name: "n", opType: "Conv", inputs: [x, w, b.weight([cout])], outputs: ["y"], attributes: [
            .ints("kernel_shape", [kernel, kernel]), .ints("strides", [stride, stride]),
            .ints("pads", [pad, pad, pad, pad]), .int("group", group)]))
    }
}

struct GemmConfig {
    var m, k, n: Int
    var transB: Bool
    var matMul = false

    /// One row: the runtime calls sgemv.
    var kind: OpKind { m == 1 || n == 1 ? .gemv : .gemm }

    func build() -> LayerCase {
        let b = CaseBuilder()
        let a = b.activation([m, k])
        if matMul {
            return b.build(kind, Node(name: "n", opType: "MatMul", inputs: [a, b.weight([k, n])], outputs: ["y"]))
        }
        let w = b.weight(transB ? [n, k] : [k, n])
        return b.build(kind, Node(name: "n", opType: "Gemm", inputs: [a, w, b.weight([n])], outputs: ["y"],
                                   attributes: [.int("transB", transB ? 1 : 0)]))
    }
}

/// Builds a one-node graph with deterministic pseudo-random data. A class, so
/// that inputs added while writing the node's argument list are all seen by `build`.
final class CaseBuilder {
    private var inputs: [ValueInfo] = []
    private var feeds: [String: Tensor] = [:]
    private var initializers: [Initializer] = []
    private var random = SplitMix64(seed: 7)

    /// A runtime input of uniform values in [-1, 1).
    func activation(_ shape: [Int]) -> String {
        let name = "x\(inputs.count)"
        inputs.append(ValueInfo(name: name, dtype: .float, dims: shape.map { .fixed($0) }))
        feeds[name] = filled(shape, low: -1, high: 1)
        return name
    }

    /// A runtime input of values in [0.5, 1.5), for ops defined on positives.
    func positiveActivation(_ shape: [Int]) -> String {
        let name = "x\(inputs.count)"
        inputs.append(ValueInfo(name: name, dtype: .float, dims: shape.map { .fixed($0) }))
        feeds[name] = filled(shape, low: 0.5, high: 1.5)
        return name
    }

    /// A float32 initializer of small values, as trained weights are.
    func weight(_ shape: [Int]) -> String {
        add(filled(shape, low: -0.05, high: 0.05))
    }

    /// A float32 initializer in [0.5, 1.5) (variances).
    func positiveWeight(_ shape: [Int]) -> String {
        add(filled(shape, low: 0.5, high: 1.5))
    }

    func ints(_ values: [Int]) -> String {
        add(Tensor([values.count], int64s: values.map { Int64($0) }))
    }

    func floats(_ values: [Float], shape: [Int]? = nil) -> String {
        add(Tensor(Shape(shape ?? [values.count]), floats: values))
    }

    /// A uint8 runtime input of pseudo-random bytes (DequantizeLinear's input).
    func byteActivation(_ shape: [Int]) -> String {
        let name = "x\(inputs.count)"
        inputs.append(ValueInfo(name: name, dtype: .uint8, dims: shape.map { .fixed($0) }))
        let count = shape.reduce(1, *)
        feeds[name] = Tensor(.uint8, Shape(shape), (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        return name
    }

    private func add(_ tensor: Tensor) -> String {
        let name = "w\(initializers.count)"
        initializers.append(Initializer(name: name, tensor: tensor))
        return name
    }

    private func filled(_ shape: [Int], low: Float, high: Float) -> Tensor {
        let tensor = Tensor.uninitialized(.float, Shape(shape))
        var state = random.next()
        tensor.withUnsafeMutableBufferPointer(as: Float.self) { buffer in
            for i in buffer.indices {
                // A 32-bit LCG is plenty for timing data and fast for 100 M weights.
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                buffer[i] = low + (high - low) * Float(state >> 40) / Float(1 << 24)
            }
        }
        return tensor
    }

    func build(_ kind: OpKind, _ node: Node, opset: Int = 13) -> LayerCase {
        let outputs = node.outputs.map { ValueInfo(name: $0, dtype: nil, dims: nil) }
        var model = ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: opset)])
        model.producerName = "cleave profile"
        let graph = Graph(model: model, name: "\(kind.rawValue)_case", inputs: inputs, outputs: outputs,
                          initializers: initializers, nodes: [node])
        return LayerCase(kind: kind, graph: graph, feeds: feeds)
    }
}

extension Attribute {
    static func int(_ name: String, _ value: Int) -> Attribute { Attribute(name: name, value: .int(value)) }
    static func ints(_ name: String, _ value: [Int]) -> Attribute { Attribute(name: name, value: .ints(value)) }
    static func float(_ name: String, _ value: Float) -> Attribute { Attribute(name: name, value: .float(value)) }
    static func string(_ name: String, _ value: String) -> Attribute { Attribute(name: name, value: .string(Array(value.utf8))) }
}

/// Picks sweep points reproducibly.
extension SplitMix64 {
    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(next() % UInt64(choices.count))]
    }
}
