#if canImport(Glibc)
import Glibc
#endif

extension AdaptivePlan {
    /// Predicted total latency against bandwidth (both axes logarithmic) as a
    /// standalone SVG: one thin line per kept cut (`<g class="cut">`), the
    /// envelope the runner follows drawn thick on top, and the cut ids at the
    /// middle of their intervals.
    public func svgChart(title: String? = nil) -> String {
        let left = 72.0, top = 56.0, plotWidth = 560.0, plotHeight = 320.0, legendWidth = 240.0
        let width = left + plotWidth + legendWidth, height = top + plotHeight + 56
        let samples = (0...200).map { i in lowerBitsPerSecond * pow(upperBitsPerSecond / lowerBitsPerSecond, Double(i) / 200) }
        let totals = cuts.map { cut in samples.map { cut.totalMilliseconds(bitsPerSecond: $0, rttMilliseconds: rttMilliseconds) } }
        let envelope = samples.indices.map { i in totals.map { $0[i] }.min() ?? 0 }
        // The y range: the envelope with room above, capped so that one slow cut does not flatten the rest.
        let yMin = Swift.max(1e-3, (envelope.min() ?? 1) / 1.5)
        let yMax = Swift.max(yMin * 10, (envelope.max() ?? 1) * 4)
        func x(_ bps: Double) -> Double { left + log(bps / lowerBitsPerSecond) / log(upperBitsPerSecond / lowerBitsPerSecond) * plotWidth }
        func y(_ ms: Double) -> Double {
            // Lines leave the plot through its top (clipped), not along it.
            let clamped = Swift.min(Swift.max(ms, yMin), yMax * 100)
            return top + plotHeight - log(clamped / yMin) / log(yMax / yMin) * plotHeight
        }
        let colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
        let heading = title ?? "Predicted latency vs bandwidth (RTT \(compact(rttMilliseconds)) ms, codec \(codec.rawValue))"
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(number(width))" height="\(number(height))" \
            viewBox="0 0 \(number(width)) \(number(height))" font-family="sans-serif" font-size="11">
            <title>\(escape(heading))</title>
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(number(left))" y="22" font-size="13" font-weight="bold">\(escape(heading))</text>

            """
        svg += "<defs><clipPath id=\"plot\"><rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(plotWidth))\" height=\"\(number(plotHeight))\"/></clipPath></defs>\n"
        // Grid: decades on both axes, with 2 and 5 in between.
        svg += "<g class=\"axis\" stroke=\"#999\">\n"
        func ticks(_ low: Double, _ high: Double) -> [Double] {
            var values: [Double] = []
            var decade = pow(10, (log10(low)).rounded(.down))
            while decade <= high {
                for factor in [1.0, 2.0, 5.0] where decade * factor >= low && decade * factor <= high { values.append(decade * factor) }
                decade *= 10
            }
            return values
        }
        for bps in ticks(lowerBitsPerSecond, upperBitsPerSecond) {
            svg += "<line x1=\"\(number(x(bps)))\" y1=\"\(number(top))\" x2=\"\(number(x(bps)))\" y2=\"\(number(top + plotHeight))\" stroke-opacity=\"0.25\"/>"
            svg += "<text x=\"\(number(x(bps)))\" y=\"\(number(top + plotHeight + 16))\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">\(escape(Link.describe(bitsPerSecond: bps)))</text>\n"
        }
        for ms in ticks(yMin, yMax) {
            svg += "<line x1=\"\(number(left))\" y1=\"\(number(y(ms)))\" x2=\"\(number(left + plotWidth))\" y2=\"\(number(y(ms)))\" stroke-opacity=\"0.25\"/>"
            svg += "<text x=\"\(number(left - 6))\" y=\"\(number(y(ms) + 4))\" text-anchor=\"end\" stroke=\"none\" fill=\"#333\">\(escape(compact(ms)))</text>\n"
        }
        svg += "<text x=\"\(number(left + plotWidth / 2))\" y=\"\(number(top + plotHeight + 36))\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">bandwidth (edge → cloud)</text>\n"
        svg += "<text transform=\"translate(18 \(number(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">predicted total ms</text>\n"
        svg += "</g>\n"
        func path(_ values: [Double]) -> String {
            zip(samples, values).enumerated().map { i, point in "\(i == 0 ? "M" : "L")\(number(x(point.0))) \(number(y(point.1)))" }.joined(separator: " ")
        }
        for (i, cut) in cuts.enumerated() {
            let color = colors[i % colors.count]
            svg += "<g class=\"cut\"><title>\(escape("\(cut.id): \(cut.candidate.label) (\(cut.reason.rawValue))"))</title>"
            svg += "<path clip-path=\"url(#plot)\" d=\"\(path(totals[i]))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/></g>\n"
            let ly = top + 8 + Double(i) * 18
            svg += "<line x1=\"\(number(left + plotWidth + 16))\" y1=\"\(number(ly))\" x2=\"\(number(left + plotWidth + 36))\" y2=\"\(number(ly))\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            let label = cut.candidate.label.count > 26 ? String(cut.candidate.label.prefix(25)) + "…" : cut.candidate.label
            svg += "<text x=\"\(number(left + plotWidth + 42))\" y=\"\(number(ly + 4))\">\(escape("\(cut.id)\(i == defaultIndex ? "*" : "") \(label)"))</text>\n"
        }
        // The envelope, coloured by the cut that is best.
        svg += "<g class=\"envelope\">\n"
        for i in samples.indices.dropLast() {
            guard let best = cuts.indices.min(by: { totals[$0][i] < totals[$1][i] }) else { continue }
            svg += "<line x1=\"\(number(x(samples[i])))\" y1=\"\(number(y(envelope[i])))\" x2=\"\(number(x(samples[i + 1])))\" y2=\"\(number(y(envelope[i + 1])))\" stroke=\"\(colors[best % colors.count])\" stroke-width=\"4\"/>"
        }
        svg += "\n</g>\n"
        let ly = top + 8 + Double(cuts.count) * 18
        svg += "<line x1=\"\(number(left + plotWidth + 16))\" y1=\"\(number(ly))\" x2=\"\(number(left + plotWidth + 36))\" y2=\"\(number(ly))\" stroke=\"#333\" stroke-width=\"4\"/>"
        svg += "<text x=\"\(number(left + plotWidth + 42))\" y=\"\(number(ly + 4))\">envelope (the runner's choice)</text>\n"
        svg += "<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(plotWidth))\" height=\"\(number(plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        svg += "</svg>\n"
        return svg
    }
}
