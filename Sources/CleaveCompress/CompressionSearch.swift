import CleaveIR

/// The most fidelity a compression may cost, measured on held-back samples.
public struct FidelityBudget: Sendable {
    /// Points (0–100) of top-1 agreement with the original model that may be lost.
    public var maxAccuracyDrop: Double?
    /// The largest relative L2 of the outputs allowed (‖y′ − y‖ / ‖y‖).
    public var maxRelativeL2: Double?

    public init(maxAccuracyDrop: Double? = nil, maxRelativeL2: Double? = nil) {
        self.maxAccuracyDrop = maxAccuracyDrop
        self.maxRelativeL2 = maxRelativeL2
    }

    /// The budget when the user names none: one point of top-1 agreement.
    public static let defaultAccuracyDrop = 1.0

    /// - Throws: `CleaveError.usage` naming the option when a bound is out of range.
    public func validate() throws {
        if let p = maxAccuracyDrop, !(p >= 0 && p <= 100) {
            throw CleaveError(.usage, "--max-accuracy-drop must be in [0, 100] (points of top-1 agreement), got \(p)")
        }
        if let e = maxRelativeL2, !(e >= 0 && e.isFinite) {
            throw CleaveError(.usage, "--max-relative-l2 must be a non-negative number, got \(e)")
        }
    }

    /// Whether a compression's measured fidelity is inside the budget. A
    /// bound that cannot be measured (no top-1 for a model whose first output
    /// is not a score vector) does not admit it.
    public func admits(_ model: CompressionReport.Model) -> Bool {
        if let p = maxAccuracyDrop {
            guard let agreement = model.top1Agreement, (1 - agreement) * 100 <= p + 1e-9 else { return false }
        }
        if let e = maxRelativeL2 {
            guard let l2 = model.relativeL2, l2 <= e else { return false }
        }
        return true
    }

    /// "≤ 1 point of top-1 agreement, relative L2 ≤ 0.05"
    public var summary: String {
        var parts: [String] = []
        if let p = maxAccuracyDrop { parts.append("≤ \(p) point\(p == 1 ? "" : "s") of top-1 agreement lost") }
        if let e = maxRelativeL2 { parts.append("relative L2 ≤ \(e)") }
        return parts.isEmpty ? "no bound" : parts.joined(separator: ", ")
    }

    public var json: JSON {
        .object([("max_accuracy_drop", maxAccuracyDrop.map(JSON.double) ?? .null),
                 ("max_relative_l2", maxRelativeL2.map(JSON.double) ?? .null)])
    }
}

/// Compression chosen by measurement: every strength of a fixed ladder is
/// applied, its fidelity measured on held-back samples, and the best-scoring
/// one inside the budget wins (`cleave compress --max-accuracy-drop`, and
/// `cleave split`, where the score is the planner's predicted total).
///
/// The ladder is uniform across layers — every selected layer gets the same
/// rank energy, rank ratio or pruning ratio — so its cost is one compression
/// and one fidelity run per rung (`ladder.count` of each). Weight storage is
/// not searched: int8/fp16 weights shrink the bundle, not the latency
/// (the runtime widens them on every run).
public enum CompressionSearch {
    /// One compression tried.
    public struct Point: Sendable {
        /// "rank energy 0.95", "prune 0.25", or "none" (BatchNormalization folding only).
        public var label: String
        public var report: CompressionReport
        /// The caller's score (lower is better), e.g. predicted total ms.
        public var score: Double
        public var withinBudget: Bool
    }

    public struct Result {
        /// Every compression tried, in ladder order (the first is "none").
        public var points: [Point]
        /// The index in `points` of the chosen one.
        public var chosen: Int
        /// Rungs that could not be applied (a refit that stayed singular, say), with why.
        public var failed: [(label: String, reason: String)]
        public var graph: Graph
        public var report: CompressionReport
    }

    /// The strengths tried, weakest first, on top of `base` (its layer
    /// selection, weights and folding); "none" is BatchNormalization folding only.
    public static func ladder(_ base: CompressionOptions) -> [(label: String, options: CompressionOptions)] {
        func with(_ change: (inout CompressionOptions) -> Void) -> CompressionOptions {
            var options = base
            options.rankEnergy = nil
            options.rankRatio = nil
            options.pruneRatio = nil
            change(&options)
            return options
        }
        var rungs: [(String, CompressionOptions)] = [("none", with { _ in })]
        for e in [0.999, 0.995, 0.99, 0.98, 0.95, 0.9] {
            rungs.append(("rank energy \(e)", with { $0.rankEnergy = e }))
        }
        for r in [0.5, 0.3, 0.2, 0.1] {
            rungs.append(("rank ratio \(r)", with { $0.rankRatio = r }))
        }
        for p in [0.25, 0.5] {
            rungs.append(("prune \(p)", with { $0.pruneRatio = p }))
        }
        return rungs
    }

    /// Tries every rung of `ladder(base)` and keeps the lowest score inside
    /// `budget`; "none" is always inside it (folding is exact), so a model
    /// no compression fits is returned uncompressed.
    /// - Parameters:
    ///   - score: lower is better; called once per rung with the compressed graph.
    ///   - progress: called before each rung with its index, the rung count and its label, and with the count twice at the end.
    public static func search(_ graph: Graph, base: CompressionOptions, budget: FidelityBudget,
                              inputShapes: [String: Shape] = [:],
                              score: (Graph, CompressionReport) throws -> Double,
                              progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> Result {
        try budget.validate()
        let rungs = ladder(base)
        var points: [Point] = []
        var failed: [(label: String, reason: String)] = []
        var best: (index: Int, graph: Graph, report: CompressionReport)?
        for (index, rung) in rungs.enumerated() {
            progress(index, rungs.count, rung.label)
            let compressed: Graph, report: CompressionReport
            do {
                (compressed, report) = try Compressor.compress(graph, options: rung.options, inputShapes: inputShapes)
            } catch let error as CleaveError where index > 0 && error.kind == .badInput {
                // One strength the data cannot support does not end the search; "none" failing does.
                failed.append((rung.label, error.message))
                continue
            }
            // A rung that changed no layer repeats a weaker one.
            if index > 0 && report.layers.allSatisfy({ $0.kind == .batchNormFolded }) { continue }
            let value = try score(compressed, report)
            let inside = index == 0 || budget.admits(report.model)
            points.append(Point(label: rung.label, report: report, score: value, withinBudget: inside))
            if inside, best.map({ value < points[$0.index].score }) ?? true {
                best = (points.count - 1, compressed, report)
            }
        }
        progress(rungs.count, rungs.count, "")
        guard let best else {
            // Unreachable: the first rung is always inside the budget.
            throw CleaveError.badInput("no compression was tried")
        }
        return Result(points: points, chosen: best.index, failed: failed, graph: best.graph, report: best.report)
    }
}
