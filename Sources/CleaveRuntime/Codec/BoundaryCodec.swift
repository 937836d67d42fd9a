import CleaveIR

/// How boundary tensors travel from the edge half to the cloud half: what
/// `cleave run --remote` sends, and what `cleave plan` counts as the bytes of a cut.
///
/// - `none`: every tensor as its raw bytes; the cloud half computes exactly
///   what a local pair run computes.
/// - `int8`: each float32 tensor as `uint8` codes with one per-tensor
///   `Quantization` (its scale and zero point travel beside the codes); a
///   quarter of the bytes, approximate. Other dtypes travel raw.
/// - `int8+zlib`: as `int8`, then deflated with `Zlib` at `deflateLevel`,
///   which shrinks the runs of zeros that ReLU leaves.
public enum BoundaryCodec: String, CaseIterable, Sendable {
    case none
    case int8
    case int8Zlib = "int8+zlib"

    /// True when tensors of `dtype` travel quantised under this codec: only
    /// float32 does, since shapes and indices must arrive exact.
    public func quantizes(_ dtype: DType) -> Bool { self != .none && dtype == .float }

    /// True when the bytes are deflated.
    public var deflates: Bool { self == .int8Zlib }

    /// The zlib level of `int8+zlib`: the fastest, because the edge device
    /// deflates on every run and that time counts against what the split saves.
    /// The planner measures sizes at the same level, so that it counts the
    /// bytes that really travel.
    public static let deflateLevel: Int32 = 1
}
