/// Shape facts that shape inference, the cost model and the kernels all
/// need, computed in one place so they cannot disagree.

/// NumPy-style multidirectional broadcasting of two shapes.
/// - Throws: `CleaveError.badInput` when a pair of dims is neither equal nor 1.
public func broadcast(_ a: Shape, _ b: Shape) throws -> Shape {
    let rank = Swift.max(a.rank, b.rank)
    var dims = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.rank ? 1 : a[i - (rank - a.rank)]
        let db = i < rank - b.rank ? 1 : b[i - (rank - b.rank)]
        guard da == db || da == 1 || db == 1 else {
            throw CleaveError.badInput("shapes \(a) and \(b) cannot be broadcast (dim \(da) vs \(db))")
        }
        dims[i] = da == 1 ? db : da
    }
    return Shape(dims)
}

/// The window geometry of Conv, ConvTranspose and the pooling ops over N
/// spatial dims, with `auto_pad` already resolved into explicit pads.
public struct WindowGeometry: Hashable, Sendable {
    public var kernel: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    /// Padding before each spatial dim; negative only for a SAME pool whose
    /// window is smaller than its stride (the input is then cropped).
    public var padsBegin: [Int]
    /// Padding after each spatial dim; negative for a ConvTranspose whose
    /// `output_shape` reaches past the last kernel tap (the output is then
    /// extended), and for a SAME pool whose window is smaller than its stride
    /// (the input is then cropped).
    public var padsEnd: [Int]
    /// Output spatial dims.
    public var output: [Int]

    public var spatialRank: Int { kernel.count }

    /// Geometry of a Conv or pooling window over `input` spatial dims.
    ///
    /// - Parameters:
    ///   - kernel: kernel spatial dims (kernel_shape, or the weight's trailing dims).
    ///   - ceilMode: pooling's `ceil_mode`; a window must still start inside the
    ///     input or its left padding (the rule ONNX Runtime and PyTorch apply).
    /// - Throws: `CleaveError.badInput` when attributes disagree in length or the
    ///   window does not fit.
    public init(node: Node, input: [Int], kernel: [Int], ceilMode: Bool = false) throws {
        let n = input.count
        let label = WindowGeometry.label(node)
        func attribute(_ name: String, default value: Int, count: Int) throws -> [Int] {
            try WindowGeometry.ints(node, name, default: value, count: count)
        }
        guard kernel.count == n else {
            throw CleaveError.badInput("node \(label): kernel has \(kernel.count) spatial dims, input has \(n)")
        }
        self.kernel = kernel
        strides = try attribute("strides", default: 1, count: n)
        dilations = try attribute("dilations", default: 1, count: n)
        let pads = try attribute("pads", default: 0, count: 2 * n)
        padsBegin = Array(pads[0..<n])
        padsEnd = Array(pads[n..<(2 * n)])
        guard strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }),
              pads.allSatisfy({ $0 >= 0 })
        else { throw CleaveError.badInput("node \(label): kernel, strides and dilations must be positive, pads non-negative") }
        output = []
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        let math = WindowArithmetic(label: label)
        let isPool = node.opType == "MaxPool" || node.opType == "AveragePool" || node.opType == "LpPool"
        for i in 0..<n {
            let extent = try math.add(try math.mul(kernel[i] - 1, dilations[i]), 1)
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                if isPool {
                    // ONNX Runtime sizes a pool's SAME padding with the undilated kernel, then
                    // slides the dilated window over it: with dilations > 1 the output is
                    // smaller than ceil(in / stride). A window smaller than the stride needs
                    // negative padding, which crops the input (C division: toward zero).
                    let target = math.ceilDiv(input[i], strides[i])
                    let needed = try math.sub(try math.add(try math.mul(target - 1, strides[i]), kernel[i]), input[i])
                    padsBegin[i] = autoPad == "SAME_UPPER" ? needed / 2 : (needed + 1) / 2
                    padsEnd[i] = needed - padsBegin[i]
                    let span = try math.sub(try math.add(input[i], needed), extent)
                    let steps = ceilMode && span > 0 ? math.ceilDiv(span, strides[i]) : span / strides[i]
                    guard steps >= 0 else {
                        throw CleaveError.badInput("node \(label): window of \(extent) does not fit input dim \(input[i]) with auto_pad \(autoPad)")
                    }
                    output.append(steps + 1)
                } else {
                    let out = math.ceilDiv(input[i], strides[i])
                    let total = Swift.max(0, try math.sub(try math.add(try math.mul(out - 1, strides[i]), extent), input[i]))
                    let small = total / 2
                    padsBegin[i] = autoPad == "SAME_UPPER" ? small : total - small
                    padsEnd[i] = total - padsBegin[i]
                    output.append(out)
                }
                continue
            case "VALID":
                padsBegin[i] = 0
                padsEnd[i] = 0
            case "NOTSET", "":
                break
            default:
                throw CleaveError.badInput("node \(label): unknown auto_pad '\(autoPad)'")
            }
            let span = try math.sub(try math.add(try math.add(input[i], padsBegin[i]), padsEnd[i]), extent)
            guard span >= 0 else {
                throw CleaveError.badInput("node \(label): window of \(extent) does not fit input dim \(input[i]) with pads \(padsBegin[i])+\(padsEnd[i])")
            }
            var out = span / strides[i] + 1
            if ceilMode {
                out = math.ceilDiv(span, strides[i]) + 1
                // input + padsBegin cannot overflow: input + padsBegin + padsEnd was checked above.
                let lastStart = (out - 1).multipliedReportingOverflow(by: strides[i])
                if lastStart.overflow || lastStart.partialValue >= input[i] + padsBegin[i] { out -= 1 }
            }
            output.append(out)
        }
    }

    /// Geometry of a ConvTranspose: `output` is the output spatial size, from
    /// `output_shape` when given, else from strides, pads and `output_padding`.
    public init(convTranspose node: Node, input: [Int], kernel: [Int]) throws {
        let n = input.count
        let label = WindowGeometry.label(node)
        func attribute(_ name: String, default value: Int, count: Int) throws -> [Int] {
            try WindowGeometry.ints(node, name, default: value, count: count)
        }
        guard kernel.count == n else {
            throw CleaveError.badInput("node \(label): kernel has \(kernel.count) spatial dims, input has \(n)")
        }
        self.kernel = kernel
        strides = try attribute("strides", default: 1, count: n)
        dilations = try attribute("dilations", default: 1, count: n)
        let outputPadding = try attribute("output_padding", default: 0, count: n)
        let pads = try attribute("pads", default: 0, count: 2 * n)
        padsBegin = Array(pads[0..<n])
        padsEnd = Array(pads[n..<(2 * n)])
        guard strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }) else {
            throw CleaveError.badInput("node \(label): kernel, strides and dilations must be positive")
        }
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        let requested = node.ints("output_shape").map { Array($0.suffix(n)) }
        if let requested, requested.count != n {
            throw CleaveError.badInput("node \(label): output_shape has \(requested.count) values, expected \(n)")
        }
        let math = WindowArithmetic(label: label)
        output = []
        for i in 0..<n {
            let extent = try math.add(try math.mul(kernel[i] - 1, dilations[i]), 1)
            let full = try math.add(try math.add(try math.mul(strides[i], input[i] - 1), outputPadding[i]), extent)
            if let requested {
                // Pads follow from the requested size (ONNX spec: SAME_UPPER puts the extra one at the end).
                // A size beyond what the kernel reaches pads nothing at the start and extends the end,
                // as ONNX Runtime does (padsEnd is then negative; the extra outputs hold only the bias).
                let total = Swift.max(0, try math.sub(full, requested[i]))
                let small = total / 2
                padsBegin[i] = autoPad == "SAME_UPPER" ? small : total - small
                padsEnd[i] = try math.sub(try math.sub(full, requested[i]), padsBegin[i])
                output.append(requested[i])
            } else if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                // SAME aims at in × stride, but (as in ONNX Runtime) never pads
                // negatively: a kernel that reaches less far gives a smaller output.
                let total = Swift.max(0, try math.sub(full, try math.mul(input[i], strides[i])))
                let small = total / 2
                padsBegin[i] = autoPad == "SAME_UPPER" ? small : total - small
                padsEnd[i] = total - padsBegin[i]
                output.append(full - total)
            } else {
                if autoPad == "VALID" {
                    padsBegin[i] = 0
                    padsEnd[i] = 0
                }
                output.append(try math.sub(try math.sub(full, padsBegin[i]), padsEnd[i]))
            }
            guard output[i] > 0 else {
                throw CleaveError.badInput("node \(label): output dim \(output[i]) is not positive")
            }
        }
    }
}

/// Window arithmetic on attribute values read from a file: an overflow is a
/// bad-input error naming the node, never a trap.
private struct WindowArithmetic {
    let label: String

    func fail() -> CleaveError {
        .badInput("node \(label): kernel, strides, dilations, pads or input dims are too large (the output size overflows)")
    }

    func add(_ a: Int, _ b: Int) throws -> Int {
        let (r, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw fail() }
        return r
    }

    func sub(_ a: Int, _ b: Int) throws -> Int {
        let (r, overflow) = a.subtractingReportingOverflow(b)
        guard !overflow else { throw fail() }
        return r
    }

    func mul(_ a: Int, _ b: Int) throws -> Int {
        let (r, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw fail() }
        return r
    }

    /// ⌈a / b⌉ for a ≥ 0, b > 0, without forming a + b.
    func ceilDiv(_ a: Int, _ b: Int) -> Int { a / b + (a % b == 0 ? 0 : 1) }
}

extension WindowGeometry {

    /// How messages name a node: its name, or its op if unnamed.
    static func label(_ node: Node) -> String {
        node.name.isEmpty ? node.opType : "'\(node.name)'"
    }

    /// An ints attribute with `count` values, or `count` copies of `value` when absent.
    static func ints(_ node: Node, _ name: String, default value: Int, count: Int) throws -> [Int] {
        guard let v = node.ints(name) else { return [Int](repeating: value, count: count) }
        guard v.count == count else {
            throw CleaveError.badInput("node \(label(node)): \(name) has \(v.count) values, expected \(count)")
        }
        return v
    }
}
