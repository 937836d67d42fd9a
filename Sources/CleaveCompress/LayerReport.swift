import CleaveIR

/// What compression did to one layer, and what it cost in fidelity.
public struct LayerReport: Sendable {
    public enum Kind: String, Sendable {
        /// A BatchNormalization merged into the Conv, ConvTranspose or Gemm before it.
        case batchNormFolded = "batchnorm_folded"
        /// A layer replaced by two narrower ones (`<name>/lowrank_a`, `<name>/lowrank_b`).
        case lowRank = "low_rank"
        /// A Conv that lost output channels.
        case pruned
        /// A layer that lost input channels (after pruning upstream), its weights refit or sliced.
        case prunedInputs = "pruned_inputs"
    }

    /// The node's name as in the input model (its first output if unnamed).
    public var node: String
    public var kind: Kind
    /// How the new weights were found: "fold", "svd" (exact, from the weights),
    /// "randomized_svd", "response_pca" (calibration data), "l1" (filter norms),
    /// "least_squares" (refit on calibration data), "slice" (no calibration data).
    public var method: String
    /// The rank r of a low-rank layer.
    public var rank: Int?
    /// Output channels before the change.
    public var channels: Int?
    /// Output channels kept by pruning.
    public var keptChannels: Int?
    public var macsBefore: Int
    public var macsAfter: Int
    /// Elements of the layer's output (for a low-rank layer, "after" is the r-wide bottleneck).
    public var outputElementsBefore: Int
    public var outputElementsAfter: Int
    /// ‖y′ − y‖ / ‖y‖ of the layer's output against the input model's, over
    /// the evaluation inputs (nil until measured, or if the output is all zeros).
    public var relativeError: Double?
    /// The new r-wide tensor of a low-rank layer.
    public var bottleneck: String?

    /// The tensor compared to measure `relativeError` (same name in both models).
    var probe: String
    /// For a pruned output: which channels (axis 1) of the input model's tensor survive.
    var probeChannels: [Int]?
}

/// A layer a pass was asked to change but left alone, and why.
public struct SkippedLayer: Sendable {
    public var node: String
    public var reason: String
}
