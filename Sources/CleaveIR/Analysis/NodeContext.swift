/// What shape inference, folding and the cost model see of one node: its
/// attributes, the resolved types of its inputs and the values of those
/// inputs known at analysis time.
struct NodeContext {
    let node: Node
    let op: Op
    let index: Int
    /// The ai.onnx opset of the model: some attribute and input forms depend on it.
    let opset: Int
    /// Aligned with `node.inputs`; nil for omitted optional inputs.
    let inputTypes: [TensorType?]
    /// Aligned with `node.inputs`; nil where the value is not known before running.
    let inputValues: [Tensor?]

    /// How messages name the node: `'name' (Conv)` or `#12 (Conv)` if unnamed.
    var label: String {
        node.name.isEmpty ? "#\(index) (\(node.opType))" : "'\(node.name)' (\(node.opType))"
    }

    /// A `CleaveError.badInput` naming this node.
    func fail(_ message: String) -> CleaveError {
        .badInput("node \(label): \(message)")
    }

    /// Whether input `i` is present (not omitted).
    func has(_ i: Int) -> Bool { i < inputTypes.count && inputTypes[i] != nil }

    /// The type of required input `i`.
    func type(_ i: Int) throws -> TensorType {
        guard i < inputTypes.count, let type = inputTypes[i] else {
            throw fail("input \(i) is required but missing")
        }
        return type
    }

    func shape(_ i: Int) throws -> Shape { try type(i).shape }

    /// The known value of input `i`, or nil if omitted.
    /// - Throws: when the input is present but only known at run time: the
    ///   output shape depends on it, so analysis cannot go on.
    func value(_ i: Int, _ what: String) throws -> Tensor? {
        guard has(i) else { return nil }
        guard let value = inputValues[i] else {
            throw fail("\(what) input '\(node.inputs[i])' is computed at run time, so the output shape is unknown (it must be a constant or a shape computation cleave can fold)")
        }
        // Parameters are a few numbers; reading a weight-sized tensor here would defeat lazy loading.
        guard value.elementCount <= NodeContext.foldingLimit else {
            throw fail("\(what) input '\(node.inputs[i])' has \(value.elementCount) elements, too many for \(what)")
        }
        return value
    }

    /// The integers held by input `i` (axes, pads, shape, sizes), or nil if omitted.
    func integers(_ i: Int, _ what: String) throws -> [Int]? {
        guard let tensor = try value(i, what) else { return nil }
        guard let values = FoldValue(tensor)?.integers, tensor.dtype == .int64 || tensor.dtype == .int32 else {
            throw fail("\(what) input '\(node.inputs[i])' has type \(tensor.dtype.name), expected int64")
        }
        return values.map { Int($0) }
    }

    /// The floats held by input `i` (scales), or nil if omitted.
    func reals(_ i: Int, _ what: String) throws -> [Double]? {
        guard let tensor = try value(i, what) else { return nil }
        guard tensor.dtype.isFloatingPoint, let values = FoldValue(tensor)?.reals else {
            throw fail("\(what) input '\(node.inputs[i])' has type \(tensor.dtype.name), expected float")
        }
        return values
    }

    /// `axis` in `0..<rank` (or `0...rank` when `inclusive`, as Flatten's), counting from the end when negative.
    func axis(_ axis: Int, rank: Int, inclusive: Bool = false, _ what: String = "axis") throws -> Int {
        let upper = inclusive ? rank + 1 : rank
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0 && resolved < upper else {
            throw fail("\(what) \(axis) is out of range for rank \(rank)")
        }
        return resolved
    }

    /// Several axes resolved against `rank`, rejecting repeats.
    func axes(_ values: [Int], rank: Int, _ what: String = "axes") throws -> [Int] {
        var seen = Set<Int>()
        var resolved: [Int] = []
        for value in values {
            let a = try axis(value, rank: rank, what)
            guard seen.insert(a).inserted else { throw fail("\(what) \(values) name axis \(a) twice") }
            resolved.append(a)
        }
        return resolved
    }

    /// A shape built from dims computed for this node, checked so that element
    /// and byte counts cannot overflow later.
    func checkedShape(_ dims: [Int]) throws -> Shape {
        for (axis, d) in dims.enumerated() where d < 0 {
            throw fail("output dim \(axis) would be \(d) (output \(dims))")
        }
        guard let count = Shape.checkedElementCount(dims), count <= Shape.elementLimit else {
            throw fail("output shape \(dims) has too many elements")
        }
        return Shape(dims)
    }
}

extension Shape {
    /// The largest element count analysis accepts, so that byte counts of any
    /// dtype (up to 16 bytes) and sums of them stay far from overflow.
    static let elementLimit = Int.max >> 8
}
