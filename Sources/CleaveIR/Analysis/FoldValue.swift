/// A small tensor held as plain Swift numbers, so analysis can evaluate the
/// shape arithmetic exporters emit without a runtime.
///
/// Integer and bool types are held as `Int64`, float32 and float64 as
/// `Double`; results are narrowed back to the dtype after every operation
/// (`normalized()`), so int32 arithmetic wraps at 32 bits and float32
/// arithmetic rounds like float32 (a float32 sum, product or quotient computed
/// in Double and rounded once is exactly the float32 result).
struct FoldValue {
    enum Elements {
        case integers([Int64])
        case reals([Double])
    }

    var dtype: DType
    var shape: Shape
    var elements: Elements

    var count: Int { shape.elementCount }

    var integers: [Int64]? {
        if case .integers(let values) = elements { return values }
        return nil
    }

    var reals: [Double]? {
        if case .reals(let values) = elements { return values }
        return nil
    }

    /// Whether `dtype` can be folded, and how it is held.
    static func holdsIntegers(_ dtype: DType) -> Bool? {
        switch dtype {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .bool: return true
        case .float, .double: return false
        case .uint64, .string, .float16, .bfloat16, .complex64, .complex128, .float8e4m3fn, .float8e4m3fnuz,
             .float8e5m2, .float8e5m2fnuz, .uint4, .int4, .float4e2m1:
            return nil
        }
    }

    init(dtype: DType, shape: Shape, elements: Elements) {
        self.dtype = dtype
        self.shape = shape
        self.elements = elements
    }

    /// Reads `tensor`; nil for dtypes analysis does not fold. Reads with
    /// unaligned loads because initializer bytes are spans of the model file.
    init?(_ tensor: Tensor) {
        guard let integral = FoldValue.holdsIntegers(tensor.dtype) else { return nil }
        let bytes = tensor.storage.bytes
        let n = tensor.elementCount
        dtype = tensor.dtype
        shape = tensor.shape
        if integral {
            var values = [Int64](repeating: 0, count: n)
            for i in 0..<n {
                switch tensor.dtype {
                case .int8: values[i] = Int64(bytes.loadUnaligned(fromByteOffset: i, as: Int8.self))
                case .uint8: values[i] = Int64(bytes.loadUnaligned(fromByteOffset: i, as: UInt8.self))
                case .bool: values[i] = bytes.loadUnaligned(fromByteOffset: i, as: UInt8.self) == 0 ? 0 : 1
                case .int16: values[i] = Int64(bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
                case .uint16: values[i] = Int64(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                case .int32: values[i] = Int64(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                case .uint32: values[i] = Int64(bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                default: values[i] = bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
                }
            }
            elements = .integers(values)
        } else {
            var values = [Double](repeating: 0, count: n)
            for i in 0..<n {
                values[i] = tensor.dtype == .float
                    ? Double(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
                    : bytes.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)
            }
            elements = .reals(values)
        }
    }

    /// The value as a tensor of its dtype.
    func tensor() -> Tensor {
        switch (dtype, elements) {
        case (.float, .reals(let v)): return Tensor(.float, shape, v.map { Float($0) })
        case (.double, .reals(let v)): return Tensor(.double, shape, v)
        case (.int64, .integers(let v)): return Tensor(.int64, shape, v)
        case (.int32, .integers(let v)): return Tensor(.int32, shape, v.map { Int32(truncatingIfNeeded: $0) })
        case (.uint32, .integers(let v)): return Tensor(.uint32, shape, v.map { UInt32(truncatingIfNeeded: $0) })
        case (.int16, .integers(let v)): return Tensor(.int16, shape, v.map { Int16(truncatingIfNeeded: $0) })
        case (.uint16, .integers(let v)): return Tensor(.uint16, shape, v.map { UInt16(truncatingIfNeeded: $0) })
        case (.int8, .integers(let v)): return Tensor(.int8, shape, v.map { Int8(truncatingIfNeeded: $0) })
        case (.uint8, .integers(let v)): return Tensor(.uint8, shape, v.map { UInt8(truncatingIfNeeded: $0) })
        case (.bool, .integers(let v)): return Tensor(.bool, shape, v.map { UInt8($0 == 0 ? 0 : 1) })
        default:
            // Unreachable for values built by `init?(_:)` and the evaluator,
            // which only pair integer dtypes with integers and float dtypes with reals.
            return Tensor(zeros: dtype, shape)
        }
    }

    /// Values narrowed to what `dtype` can hold (wrapping integers, rounding float32).
    func normalized() -> FoldValue {
        var copy = self
        switch elements {
        case .integers(let v):
            switch dtype {
            case .int8: copy.elements = .integers(v.map { Int64(Int8(truncatingIfNeeded: $0)) })
            case .uint8: copy.elements = .integers(v.map { Int64(UInt8(truncatingIfNeeded: $0)) })
            case .int16: copy.elements = .integers(v.map { Int64(Int16(truncatingIfNeeded: $0)) })
            case .uint16: copy.elements = .integers(v.map { Int64(UInt16(truncatingIfNeeded: $0)) })
            case .int32: copy.elements = .integers(v.map { Int64(Int32(truncatingIfNeeded: $0)) })
            case .uint32: copy.elements = .integers(v.map { Int64(UInt32(truncatingIfNeeded: $0)) })
            case .bool: copy.elements = .integers(v.map { $0 == 0 ? 0 : 1 })
            default: break
            }
        case .reals(let v):
            if dtype == .float { copy.elements = .reals(v.map { Double(Float($0)) }) }
        }
        return copy
    }

    /// This value converted to `target` as ONNX Cast does (reals to integers
    /// truncate toward zero); nil when a real is NaN, infinite or out of
    /// Int64 range, where the result would be undefined.
    func cast(to target: DType) -> FoldValue? {
        guard let integral = FoldValue.holdsIntegers(target) else { return nil }
        let converted: Elements
        switch (elements, integral) {
        case (.integers(let v), true):
            converted = .integers(v)
        case (.integers(let v), false):
            converted = .reals(v.map { Double($0) })
        case (.reals(let v), false):
            converted = .reals(v)
        case (.reals(let v), true):
            var out: [Int64] = []
            out.reserveCapacity(v.count)
            for x in v {
                if target == .bool {
                    out.append(x == 0 ? 0 : 1)
                    continue
                }
                guard x.isFinite, abs(x) < 9.2e18 else { return nil }
                out.append(Int64(x.rounded(.towardZero)))
            }
            converted = .integers(out)
        }
        return FoldValue(dtype: target, shape: shape, elements: converted).normalized()
    }

    /// The elements at `indices` (flat, row-major), as a value of `shape`.
    func gathering(_ indices: [Int], shape: Shape) -> FoldValue {
        switch elements {
        case .integers(let v): return FoldValue(dtype: dtype, shape: shape, elements: .integers(indices.map { v[$0] }))
        case .reals(let v): return FoldValue(dtype: dtype, shape: shape, elements: .reals(indices.map { v[$0] }))
        }
    }
}
