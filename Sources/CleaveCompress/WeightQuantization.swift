import CleaveIR

/// Stores the weights of Conv, ConvTranspose, Gemm and MatMul in fewer
/// bytes, as standard ONNX that widens them back to float32 at run time:
///
/// - fp16: a float16 initializer `<weight>.fp16` and a Cast node (`<weight>/cast`);
///   values beyond float16's range are clamped to ±65504.
/// - int8: symmetric per output channel, q = round(w / s) in [−127, 127] with
///   s = max|w| / 127 per channel, stored as `<weight>.int8` with
///   `<weight>.scale` and a zero `<weight>.zero_point`, widened by
///   DequantizeLinear (`<weight>/dequantize`, `axis` = the output-channel
///   axis). Before opset 13 DequantizeLinear has no `axis`, so a Cast and a
///   Mul by the scales (shaped to broadcast) do the same.
///
/// Biases and normalisation parameters stay float32: they are a tiny share of the bytes.
enum WeightQuantization {
    /// Rewrites every eligible weight; returns how many were converted.
    static func apply(_ editor: inout GraphEditor, storage: WeightStorage) -> Int {
        guard storage != .fp32 else { return 0 }
        var replaced: [String: String] = [:]  // old weight → float32 tensor the new nodes produce
        var inserted: [Int: [Node]] = [:]      // nodes to insert before node i
        let nodes = editor.graph.nodes
        var rewritten = nodes
        for (index, node) in nodes.enumerated() {
            guard let op = node.op, [.conv, .convTranspose, .gemm, .matMul].contains(op),
                  let name = node.input(1), let weight = editor.floatConstant(name), weight.shape.rank >= 2,
                  weight.elementCount > 0
            else { continue }
            if replaced[name] == nil {
                let axis = outputAxis(op, node, weight)
                let (newNodes, output) = storage == .fp16
                    ? halfPrecision(name, weight, &editor)
                    : int8(name, weight, axis: axis, &editor)
                inserted[index, default: []] += newNodes
                replaced[name] = output
            }
            if let output = replaced[name] { rewritten[index].inputs[1] = output }
        }
        var result: [Node] = []
        for (index, node) in rewritten.enumerated() {
            result += inserted[index] ?? []
            result.append(node)
        }
        editor.graph.nodes = result
        return replaced.count
    }

    /// The axis of the weight that indexes output channels.
    private static func outputAxis(_ op: Op, _ node: Node, _ weight: Tensor) -> Int {
        switch op {
        case .convTranspose: return (node.int("group") ?? 1) == 1 ? 1 : 0
        case .gemm: return (node.int("transB") ?? 0) != 0 ? 0 : 1
        case .matMul: return weight.shape.rank - 1
        default: return 0
        }
    }

    private static func halfPrecision(_ name: String, _ weight: Tensor, _ editor: inout GraphEditor) -> ([Node], String) {
        let half = Tensor.uninitialized(.float16, weight.shape)
        weight.withUnsafeBufferPointer(as: Float.self) { source in
            half.withUnsafeMutableBufferPointer(as: Float16.self) { out in
                for i in 0..<source.count { out[i] = Float16(Swift.min(Swift.max(source[i], -65504), 65504)) }
            }
        }
        let stored = editor.addWeight(name + ".fp16", half)
        let output = editor.freshName(name + ".fp32")
        let cast = Node(name: editor.freshName(name + "/cast"), opType: "Cast", inputs: [stored], outputs: [output],
                        attributes: [Attribute(name: "to", value: .int(Int(DType.float.rawValue)))])
        return ([cast], output)
    }

    private static func int8(_ name: String, _ weight: Tensor, axis: Int, _ editor: inout GraphEditor) -> ([Node], String) {
        let dims = weight.shape.dims
        let channels = dims[axis]
        let outer = dims[..<axis].reduce(1, *), inner = dims[(axis + 1)...].reduce(1, *)
        var scales = [Float](repeating: 0, count: channels)
        let quantized = Tensor.uninitialized(.int8, weight.shape)
        weight.withUnsafeBufferPointer(as: Float.self) { w in
            for o in 0..<outer {
                for c in 0..<channels {
                    let start = (o * channels + c) * inner
                    for i in start..<(start + inner) where w[i].isFinite { scales[c] = Swift.max(scales[c], Swift.abs(w[i])) }
                }
            }
            // An all-zero channel still needs a positive scale; its values stay 0.
            scales = scales.map { $0 > 0 ? $0 / 127 : 1 }
            quantized.withUnsafeMutableBufferPointer(as: Int8.self) { q in
                for o in 0..<outer {
                    for c in 0..<channels {
                        let start = (o * channels + c) * inner
                        for i in start..<(start + inner) {
                            let v = (w[i] / scales[c]).rounded(.toNearestOrEven)
                            q[i] = Int8(v.isNaN ? 0 : Swift.min(Swift.max(v, -127), 127))
                        }
                    }
                }
            }
        }
        let stored = editor.addWeight(name + ".int8", quantized)
        let output = editor.freshName(name + ".dequantized")
        if editor.graph.opsetVersion >= 13 {
            let scale = editor.addWeight(name + ".scale", Tensor([channels], floats: scales))
            let zero = editor.addWeight(name + ".zero_point", Tensor(.int8, [channels], [Int8](repeating: 0, count: channels)))
            let node = Node(name: editor.freshName(name + "/dequantize"), opType: "DequantizeLinear",
                            inputs: [stored, scale, zero], outputs: [output],
                            attributes: [Attribute(name: "axis", value: .int(axis))])
            return ([node], output)
        }
        var scaleShape = [Int](repeating: 1, count: dims.count)
        scaleShape[axis] = channels
        let scale = editor.addWeight(name + ".scale", Tensor(Shape(scaleShape), floats: scales))
        let widened = editor.freshName(name + ".int8_as_float")
        let cast = Node(name: editor.freshName(name + "/cast"), opType: "Cast", inputs: [stored], outputs: [widened],
                        attributes: [Attribute(name: "to", value: .int(Int(DType.float.rawValue)))])
        let multiply = Node(name: editor.freshName(name + "/scale"), opType: "Mul", inputs: [widened, scale], outputs: [output])
        return ([cast, multiply], output)
    }
}
