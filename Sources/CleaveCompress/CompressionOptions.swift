import CleaveIR

/// How `Compressor` stores the weights of Conv, ConvTranspose, Gemm and MatMul.
public enum WeightStorage: String, CaseIterable, Sendable {
    /// As they are (float32).
    case fp32
    /// float16 initializers widened by a Cast node: half the bytes.
    case fp16
    /// int8 per output channel with a float scale each, widened by
    /// DequantizeLinear (opset ≥ 13; Cast and Mul before that): a quarter of the bytes.
    case int8
}

/// What `Compressor.compress` does. Passes run in this order: fold
/// BatchNormalization, prune channels, decompose, change weight storage.
public struct CompressionOptions: Sendable {
    /// Low-rank decomposition keeping this fraction (0 < E ≤ 1) of the energy
    /// (sum of squared singular values of the weights, or of the response
    /// covariance's eigenvalues with calibration data). Exclusive with `rankRatio`.
    public var rankEnergy: Double?
    /// Low-rank decomposition at r = ⌈R·min(N, K)⌉ for a layer K → N (0 < R ≤ 1).
    public var rankRatio: Double?
    /// A regular expression; only nodes whose name (or, for unnamed nodes,
    /// first output) contains a match are decomposed or pruned. nil: all.
    public var layers: String?
    /// Input sets for the data-driven passes and the fidelity report (each a
    /// feed for `Session.run`). Empty: data-free decomposition, no refit after
    /// pruning, fidelity measured on a deterministic synthetic input.
    public var calibration: [[String: Tensor]]
    /// Input sets the fit never sees, on which fidelity is measured
    /// (`Calibration.fitAndHeldOutSets`). Empty: fidelity is measured on
    /// `calibration` (or the synthetic input), and the report says so.
    public var heldOut: [[String: Tensor]] = []
    /// Remove this fraction (0 ≤ P < 1) of the output channels of each prunable Conv.
    public var pruneRatio: Double?
    public var weights: WeightStorage
    public var foldBatchNorm: Bool
    /// Threads for OpenBLAS and the runtime sessions (nil: all cores).
    public var threads: Int?

    public init(rankEnergy: Double? = nil, rankRatio: Double? = nil, layers: String? = nil,
                calibration: [[String: Tensor]] = [], pruneRatio: Double? = nil,
                weights: WeightStorage = .fp32, foldBatchNorm: Bool = true, threads: Int? = nil) {
        self.rankEnergy = rankEnergy
        self.rankRatio = rankRatio
        self.layers = layers
        self.calibration = calibration
        self.pruneRatio = pruneRatio
        self.weights = weights
        self.foldBatchNorm = foldBatchNorm
        self.threads = threads
    }

    /// Checks ranges and exclusivity.
    /// - Throws: `CleaveError` of kind `.usage` naming the option.
    public func validate() throws {
        if rankEnergy != nil && rankRatio != nil {
            throw CleaveError(.usage, "--rank-energy and --rank-ratio are exclusive: give one")
        }
        if let e = rankEnergy, !(e > 0 && e <= 1) {
            throw CleaveError(.usage, "--rank-energy must be in (0, 1], got \(e)")
        }
        if let r = rankRatio, !(r > 0 && r <= 1) {
            throw CleaveError(.usage, "--rank-ratio must be in (0, 1], got \(r)")
        }
        if let p = pruneRatio, !(p >= 0 && p < 1) {
            throw CleaveError(.usage, "--prune-ratio must be in [0, 1), got \(p)")
        }
        if let threads, threads < 1 { throw CleaveError(.usage, "threads must be at least 1, got \(threads)") }
        _ = try LayerSelection(pattern: layers)
    }

    /// Whether low-rank decomposition was asked for.
    var decomposes: Bool { rankEnergy != nil || rankRatio != nil }
}

/// Which nodes `--layers` selects.
struct LayerSelection {
    private let regex: Regex<AnyRegexOutput>?
    let pattern: String?

    init(pattern: String?) throws {
        self.pattern = pattern
        guard let pattern else {
            regex = nil
            return
        }
        do {
            regex = try Regex(pattern)
        } catch {
            throw CleaveError(.usage, "--layers '\(pattern)' is not a valid regular expression: \(error)")
        }
    }

    /// The name `--layers` is matched against: the node's name, or its first output when unnamed.
    static func name(of node: Node) -> String {
        node.name.isEmpty ? (node.outputs.first ?? "") : node.name
    }

    func selects(_ node: Node) -> Bool {
        guard let regex else { return true }
        return (try? regex.firstMatch(in: Self.name(of: node))) != nil
    }
}
