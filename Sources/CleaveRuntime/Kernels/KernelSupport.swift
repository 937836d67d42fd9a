import CleaveIR

/// Checks every kernel makes on its inputs and attributes, each throwing a
/// `CleaveError.badInput` that names the node.

/// The most elements a kernel allocates for a shape that was computed at run
/// time (Expand, ConstantOfShape, Resize, Pad, …): a bad shape tensor must fail
/// with a message, not exhaust memory. 2^32 elements is 16 GiB of float32.
let maximumRuntimeElements = 1 << 32

extension KernelSetup {
    /// Input `index`, which the op cannot do without.
    func required(_ inputs: [Tensor?], _ index: Int, _ what: String) throws -> Tensor {
        guard index < inputs.count, let tensor = inputs[index] else {
            throw error("input \(index) (\(what)) is missing")
        }
        return tensor
    }

    /// Input `index` if given (omitted optional inputs and absent trailing ones are nil).
    func optional(_ inputs: [Tensor?], _ index: Int) -> Tensor? {
        index < inputs.count ? inputs[index] : nil
    }

    /// `axis` in `-rank..<rank` made non-negative.
    func axis(_ axis: Int, rank: Int, _ what: String = "axis") throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw error("\(what) \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Axes in `-rank..<rank`, made non-negative, without repeats.
    func axes(_ axes: [Int], rank: Int, _ what: String = "axes") throws -> [Int] {
        var seen = Set<Int>()
        return try axes.map { a in
            let normalized = try axis(a, rank: rank, what)
            guard seen.insert(normalized).inserted else { throw error("\(what) \(axes) repeats axis \(a)") }
            return normalized
        }
    }

    /// An index into a dim of `dim` elements, counting from the end when
    /// negative (Gather, GatherElements, ScatterND).
    func index(_ i: Int, dim: Int, axis: Int) throws -> Int {
        guard i >= -dim, i < dim else { throw error("index \(i) is out of range for dim \(dim) of axis \(axis)") }
        return i < 0 ? i + dim : i
    }

    /// The values of an int64 or int32 tensor (shapes, axes, pads, indices).
    func integers(_ tensor: Tensor, _ what: String) throws -> [Int] {
        guard let values = tensor.integerValues else {
            throw error("\(what) must be int64 or int32, got \(tensor.dtype.name)")
        }
        return values
    }

    /// The one value of a float tensor holding a single element.
    func scalarFloat(_ tensor: Tensor, _ what: String) throws -> Float {
        guard tensor.elementCount == 1 else { throw error("\(what) must hold one value, got shape \(tensor.shape)") }
        switch tensor.dtype {
        case .float: return tensor.floats[0]
        case .double: return Float(tensor.elements(as: Double.self)[0])
        case .float16: return Float(tensor.elements(as: Float16.self)[0])
        default: throw error("\(what) must be float32, got \(tensor.dtype.name)")
        }
    }

    /// Bytes per element for ops that only move data.
    func elementSize(_ tensor: Tensor, _ what: String = "input") throws -> Int {
        guard tensor.dtype != .string, let size = tensor.dtype.byteSize else {
            throw error("\(what) has dtype \(tensor.dtype.name), which cleave cannot move (no fixed element size)")
        }
        return size
    }

    /// Throws unless `tensor` is float32.
    func requireFloat(_ tensor: Tensor, _ what: String = "input") throws {
        guard tensor.dtype == .float else { throw error("\(what) must be float32, got \(tensor.dtype.name)") }
    }

    /// A shape computed at run time, checked for negative dims, overflow and size.
    func shape(_ dims: [Int], _ what: String) throws -> Shape {
        guard let count = Shape.checkedElementCount(dims) else {
            throw error("\(what) \(dims) has a negative dim or too many elements")
        }
        guard count <= maximumRuntimeElements else {
            throw error("\(what) \(dims) has \(count) elements, more than cleave allocates (\(maximumRuntimeElements))")
        }
        return Shape(dims)
    }

}

extension Tensor {
    /// Read-only raw bytes.
    var rawBytes: UnsafeRawPointer? { storage.bytes.baseAddress }

    /// Writable raw bytes of a tensor this kernel just allocated.
    var mutableRawBytes: UnsafeMutableRawPointer? { storage.mutableBytes?.baseAddress }

    /// The first element as Double, for scalar parameters of any numeric dtype.
    var firstElementAsDouble: Double? {
        guard elementCount >= 1 else { return nil }
        switch dtype {
        case .float: return Double(withUnsafeBufferPointer(as: Float.self) { $0[0] })
        case .double: return withUnsafeBufferPointer(as: Double.self) { $0[0] }
        case .float16: return Double(withUnsafeBufferPointer(as: Float16.self) { $0[0] })
        case .int64: return Double(withUnsafeBufferPointer(as: Int64.self) { $0[0] })
        case .int32: return Double(withUnsafeBufferPointer(as: Int32.self) { $0[0] })
        case .int8: return Double(withUnsafeBufferPointer(as: Int8.self) { $0[0] })
        case .uint8: return Double(withUnsafeBufferPointer(as: UInt8.self) { $0[0] })
        case .bool: return withUnsafeBufferPointer(as: UInt8.self) { $0[0] } != 0 ? 1 : 0
        default: return nil
        }
    }
}
