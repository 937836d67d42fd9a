import CleaveIR

/// What `Compressor.compress` changed and what it cost: per layer, and for the model.
public struct CompressionReport: Sendable {
    /// Model-level numbers, before (the input model) and after.
    public struct Model: Sendable {
        public var macsBefore: Int
        public var macsAfter: Int
        public var paramsBefore: Int
        public var paramsAfter: Int
        public var weightBytesBefore: Int
        public var weightBytesAfter: Int
        /// Fraction of samples whose top-1 class (argmax over the last axis of
        /// the first output) is unchanged; nil when the first output is not a score vector.
        public var top1Agreement: Double?
        /// ‖y′ − y‖ / ‖y‖ over all outputs and evaluation inputs.
        public var relativeL2: Double?
        /// Samples compared (rows of the first output).
        public var samples: Int

        /// The sampling noise of `top1Agreement`: the lower end of its 95 %
        /// Wilson score interval over `samples` (with 64 samples all agreeing,
        /// 94.3 %: a fit could still lose up to ~6 points on other data).
        public var top1AgreementLowerBound: Double? {
            guard let p = top1Agreement, samples > 0 else { return nil }
            let n = Double(samples), z = 1.96
            let centre = p + z * z / (2 * n)
            let spread = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot()
            return Swift.max(0, (centre - spread) / (1 + z * z / n))
        }
        /// "held_out" (calibration samples the fit never saw), "calibration" (the
        /// fitted samples themselves, for library callers that hold none back) or
        /// "synthetic" (one deterministic standard-normal input, when no calibration data was given).
        public var evaluatedOn: String
    }

    public var layers: [LayerReport]
    public var model: Model
    /// The r-wide tensors low-rank decomposition created (also in the model's
    /// `cleave.bottlenecks` metadata): candidate cut points.
    public var bottlenecks: [String]
    public var skipped: [SkippedLayer]
    public var weights: WeightStorage

    /// The report as JSON (the `--json` output of `cleave compress`, documented in README.md).
    public var json: JSON {
        func optional(_ value: Double?) -> JSON { value.map { .double($0) } ?? .null }
        func optional(_ value: Int?) -> JSON { value.map { .int($0) } ?? .null }
        let m = model
        return .object([
            ("model", .object([
                ("macs_before", .int(m.macsBefore)), ("macs_after", .int(m.macsAfter)),
                ("macs_reduction", .double(m.macsAfter > 0 ? Double(m.macsBefore) / Double(m.macsAfter) : 0)),
                ("params_before", .int(m.paramsBefore)), ("params_after", .int(m.paramsAfter)),
                ("weight_bytes_before", .int(m.weightBytesBefore)), ("weight_bytes_after", .int(m.weightBytesAfter)),
                ("top1_agreement", optional(m.top1Agreement)), ("top1_agreement_lower_95", optional(m.top1AgreementLowerBound)),
                ("relative_l2", optional(m.relativeL2)),
                ("samples", .int(m.samples)), ("evaluated_on", .string(m.evaluatedOn)),
            ])),
            ("weights", .string(weights.rawValue)),
            ("layers", .array(layers.map { l in
                .object([
                    ("node", .string(l.node)), ("kind", .string(l.kind.rawValue)), ("method", .string(l.method)),
                    ("rank", optional(l.rank)), ("channels", optional(l.channels)), ("kept_channels", optional(l.keptChannels)),
                    ("macs_before", .int(l.macsBefore)), ("macs_after", .int(l.macsAfter)),
                    ("output_elements_before", .int(l.outputElementsBefore)), ("output_elements_after", .int(l.outputElementsAfter)),
                    ("relative_error", optional(l.relativeError)),
                    ("bottleneck", l.bottleneck.map { .string($0) } ?? .null),
                ])
            })),
            ("bottlenecks", .array(bottlenecks.map { .string($0) })),
            ("skipped", .array(skipped.map { .object([("node", .string($0.node)), ("reason", .string($0.reason))]) })),
        ])
    }

    /// The report as a text table: one row per changed layer, then the model totals.
    public var table: String {
        var rows: [[String]] = [["layer", "change", "rank/kept", "MACs before", "MACs after", "out elems", "rel. error"]]
        for l in layers {
            let shape: String
            switch l.kind {
            case .lowRank: shape = "r=\(l.rank ?? 0) of \(l.channels ?? 0)"
            case .pruned: shape = "\(l.keptChannels ?? 0) of \(l.channels ?? 0)"
            case .batchNormFolded, .prunedInputs: shape = "-"
            }
            rows.append([l.node, "\(l.kind.rawValue) (\(l.method))", shape, Self.count(l.macsBefore), Self.count(l.macsAfter),
                         "\(Self.count(l.outputElementsBefore)) → \(Self.count(l.outputElementsAfter))",
                         l.relativeError.map { Self.fixed($0 * 100, 2) + "%" } ?? "-"])
        }
        var lines: [String] = []
        if layers.isEmpty {
            lines.append("no layer changed")
        } else {
            lines.append(Self.render(rows, rightAligned: [3, 4, 5, 6]))
        }
        let m = model
        let reduction = m.macsAfter > 0 ? Double(m.macsBefore) / Double(m.macsAfter) : 0
        lines.append("")
        lines.append("MACs:    \(Self.count(m.macsBefore)) → \(Self.count(m.macsAfter)) (\(Self.fixed(reduction, 2))× fewer)")
        lines.append("params:  \(Self.count(m.paramsBefore)) → \(Self.count(m.paramsAfter)); weights \(Self.count(m.weightBytesBefore))B → \(Self.count(m.weightBytesAfter))B (\(weights.rawValue))")
        var top1 = m.top1Agreement.map { Self.fixed($0 * 100, 2) + "%" } ?? "n/a"
        if let low = m.top1AgreementLowerBound { top1 += " (95% lower bound \(Self.fixed(low * 100, 1))%)" }
        let l2 = m.relativeL2.map { Self.fixed($0 * 100, 3) + "%" } ?? "n/a"
        let source = switch m.evaluatedOn {
        case "held_out": "\(m.samples) held-back calibration samples the fit did not use"
        case "calibration": "\(m.samples) calibration samples"
        default: "a synthetic input (no calibration data)"
        }
        lines.append("outputs: top-1 agreement \(top1), relative L2 \(l2), on \(source)")
        if !bottlenecks.isEmpty { lines.append("bottlenecks (cut points): \(bottlenecks.joined(separator: ", "))") }
        for s in skipped { lines.append("skipped \(s.node): \(s.reason)") }
        return lines.joined(separator: "\n")
    }

    // MARK: formatting

    static func count(_ n: Int) -> String {
        let v = Double(n)
        switch Swift.abs(v) {
        case 1e9...: return fixed(v / 1e9, 2) + "G"
        case 1e6...: return fixed(v / 1e6, 2) + "M"
        case 1e3...: return fixed(v / 1e3, 1) + "K"
        default: return String(n)
        }
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "\(v)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((Swift.abs(v) * scale).rounded())
        let whole = scaled / Int64(scale), fraction = scaled % Int64(scale)
        var text = (v < 0 && scaled != 0 ? "-" : "") + String(whole)
        if digits > 0 {
            let f = String(fraction)
            text += "." + String(repeating: "0", count: digits - f.count) + f
        }
        return text
    }

    static func render(_ rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = Swift.max(widths[i], cell.count) } }
        return rows.map { row in
            var line = row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
