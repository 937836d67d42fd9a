import CleaveIR

/// Element types as the Open Inference Protocol (KServe v2) and Triton name them.
///
/// Only types with a fixed byte size and a NumPy counterpart travel over the
/// protocol; strings (`BYTES`) and 4-bit types are refused with a 400.
extension DType {
    /// The KServe v2 datatype name (`FP32`, `INT64`, …), nil when the protocol has none.
    public var kserveName: String? {
        switch self {
        case .float: return "FP32"
        case .float16: return "FP16"
        case .double: return "FP64"
        case .bfloat16: return "BF16"
        case .int8: return "INT8"
        case .int16: return "INT16"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .uint8: return "UINT8"
        case .uint16: return "UINT16"
        case .uint32: return "UINT32"
        case .uint64: return "UINT64"
        case .bool: return "BOOL"
        default: return nil
        }
    }

    /// The type named `kserveName`, if the protocol defines it and cleave can hold it.
    public init?(kserveName: String) {
        guard let match = DType.allCases.first(where: { $0.kserveName == kserveName }) else { return nil }
        self = match
    }

    /// Triton's `DataType` enum name in config.pbtxt (`TYPE_FP32`, …).
    public var tritonName: String? { kserveName.map { "TYPE_" + $0 } }
}
