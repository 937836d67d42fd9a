extension Plan {
    /// Colours of the three stages (Tableau 10: blue, orange, green).
    static let stageColors = [("edge", "#4e79a7"), ("transfer", "#f28e2b"), ("cloud", "#59a14f")]

    /// A stacked-bar chart of the candidates as a standalone SVG document:
    /// one `<g class="candidate">` per candidate holding a bar each for edge,
    /// transfer and cloud time (bottom to top), a tooltip with the numbers, and
    /// the label below; the optimum is outlined and starred.
    public func svgChart() -> String {
        let barWidth = 34.0, gap = 22.0, left = 72.0, top = 56.0, plotHeight = 300.0, bottom = 190.0
        let width = left + Double(candidates.count) * (barWidth + gap) + gap
        let height = top + plotHeight + bottom
        let maximum = candidates.map(\.totalMilliseconds).max() ?? 0
        let step = niceStep(maximum / 5)
        let ceiling = Swift.max(step, (maximum / step).rounded(.up) * step)
        func y(_ ms: Double) -> Double { top + plotHeight - ms / ceiling * plotHeight }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(number(Swift.max(width, 420)))" height="\(number(height))" \
            viewBox="0 0 \(number(Swift.max(width, 420))) \(number(height))" font-family="sans-serif" font-size="11">

            """
        svg += "<title>\(escape("Predicted latency per cut: \(link.description), codec \(codec.rawValue)"))</title>\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(number(left))\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(escape("Predicted latency per cut (\(link.description), codec \(codec.rawValue))"))</text>\n"
        // Legend.
        for (i, (name, color)) in Plan.stageColors.enumerated() {
            let x = left + Double(i) * 90
            svg += "<rect x=\"\(number(x))\" y=\"28\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(number(x + 16))\" y=\"38\">\(name)</text>\n"
        }
        // Axis and grid.
        svg += "<g class=\"axis\" stroke=\"#999\">\n"
        var tick = 0.0
        while tick <= ceiling + step / 2 {
            svg += "<line x1=\"\(number(left - 4))\" y1=\"\(number(y(tick)))\" x2=\"\(number(width - gap / 2))\" y2=\"\(number(y(tick)))\" stroke-opacity=\"0.3\"/>"
            svg += "<text x=\"\(number(left - 8))\" y=\"\(number(y(tick) + 4))\" text-anchor=\"end\" stroke=\"none\" fill=\"#333\">\(escape(milliseconds(tick)))</text>\n"
            tick += step
        }
        svg += "<text transform=\"translate(16 \(number(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">ms</text>\n"
        svg += "</g>\n"
        // Bars.
        for (i, c) in candidates.enumerated() {
            let x = left + gap + Double(i) * (barWidth + gap)
            let isBest = i == bestIndex
            let tooltip = "\(c.label): edge \(milliseconds(c.edgeMilliseconds)) ms + transfer \(milliseconds(c.transferMilliseconds)) ms + cloud \(milliseconds(c.cloudMilliseconds)) ms = \(milliseconds(c.totalMilliseconds)) ms"
            svg += "<g class=\"candidate\(isBest ? " best" : "")\">\n<title>\(escape(tooltip))</title>\n"
            var base = 0.0
            for ((name, color), ms) in zip(Plan.stageColors, [c.edgeMilliseconds, c.transferMilliseconds, c.cloudMilliseconds]) where ms > 0 {
                svg += "<rect class=\"\(name)\" x=\"\(number(x))\" y=\"\(number(y(base + ms)))\" width=\"\(number(barWidth))\" height=\"\(number(y(base) - y(base + ms)))\" fill=\"\(color)\"/>\n"
                base += ms
            }
            if isBest {
                svg += "<rect x=\"\(number(x - 1.5))\" y=\"\(number(y(base) - 1.5))\" width=\"\(number(barWidth + 3))\" height=\"\(number(y(0) - y(base) + 3))\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/>\n"
                svg += "<text x=\"\(number(x + barWidth / 2))\" y=\"\(number(y(base) - 6))\" text-anchor=\"middle\" font-weight=\"bold\">★ best</text>\n"
            }
            let label = c.label.count > 30 ? String(c.label.prefix(29)) + "…" : c.label
            svg += "<text transform=\"translate(\(number(x + barWidth / 2 + 4)) \(number(y(0) + 10))) rotate(60)\">\(escape(label))</text>\n"
            svg += "<text x=\"\(number(x + barWidth / 2))\" y=\"\(number(y(base) - (isBest ? 20 : 4)))\" text-anchor=\"middle\" fill=\"#333\">\(escape(milliseconds(c.totalMilliseconds)))</text>\n"
            svg += "</g>\n"
        }
        svg += "<line x1=\"\(number(left))\" y1=\"\(number(y(0)))\" x2=\"\(number(width - gap / 2))\" y2=\"\(number(y(0)))\" stroke=\"#333\"/>\n"
        svg += "</svg>\n"
        return svg
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough` (axis ticks).
func niceStep(_ rough: Double) -> Double {
    guard rough > 0, rough.isFinite else { return 1 }
    var power = 1.0
    while power * 10 <= rough { power *= 10 }
    while power > rough { power /= 10 }
    for factor in [1.0, 2.0, 5.0, 10.0] where factor * power >= rough { return factor * power }
    return 10 * power
}

/// A coordinate with at most two decimals.
func number(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

/// Text safe inside an XML element or attribute.
func escape(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(character)
        }
    }
    return out
}
