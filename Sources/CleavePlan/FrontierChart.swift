/// Predicted total latency against fidelity lost, one dot per compression a
/// search tried (`cleave split --frontier-chart`): the budget is a vertical
/// line, dots inside it are filled, the chosen one is ringed.
public struct FrontierChart: Sendable {
    public struct Point: Sendable {
        public var label: String
        /// Fidelity lost, in the unit of `lossName` (points of top-1, or relative L2 in %).
        public var loss: Double
        public var totalMilliseconds: Double
        public var withinBudget: Bool
        public var chosen: Bool

        public init(label: String, loss: Double, totalMilliseconds: Double, withinBudget: Bool, chosen: Bool) {
            self.label = label
            self.loss = loss
            self.totalMilliseconds = totalMilliseconds
            self.withinBudget = withinBudget
            self.chosen = chosen
        }
    }

    public var points: [Point]
    /// The x axis: "top-1 agreement lost (points)".
    public var lossName: String
    /// Where the budget's line is drawn on the x axis, if it bounds this quantity.
    public var budget: Double?
    public var title: String

    public init(points: [Point], lossName: String, budget: Double?, title: String) {
        self.points = points
        self.lossName = lossName
        self.budget = budget
        self.title = title
    }

    public func svg() -> String {
        let left = 72.0, top = 40.0, plotWidth = 520.0, plotHeight = 300.0, bottom = 48.0, right = 150.0
        let finite = points.filter { $0.loss.isFinite && $0.totalMilliseconds.isFinite }
        let maxLoss = Swift.max(finite.map(\.loss).max() ?? 0, budget ?? 0, 1e-9)
        let maxMs = Swift.max(finite.map(\.totalMilliseconds).max() ?? 0, 1e-9)
        let xStep = niceStep(maxLoss / 5), yStep = niceStep(maxMs / 5)
        let xCeiling = Swift.max(xStep, (maxLoss / xStep).rounded(.up) * xStep)
        let yCeiling = Swift.max(yStep, (maxMs / yStep).rounded(.up) * yStep)
        func x(_ loss: Double) -> Double { left + loss / xCeiling * plotWidth }
        func y(_ ms: Double) -> Double { top + plotHeight - ms / yCeiling * plotHeight }
        let width = left + plotWidth + right, height = top + plotHeight + bottom

        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(number(width))\" height=\"\(number(height))\" "
        svg += "viewBox=\"0 0 \(number(width)) \(number(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<title>\(escape(title))</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(number(left))\" y=\"20\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        svg += "<g stroke=\"#999\" fill=\"#333\">\n"
        var tick = 0.0
        while tick <= yCeiling + yStep / 2 {
            svg += "<line x1=\"\(number(left))\" y1=\"\(number(y(tick)))\" x2=\"\(number(left + plotWidth))\" y2=\"\(number(y(tick)))\" stroke-opacity=\"0.3\"/>"
            svg += "<text x=\"\(number(left - 6))\" y=\"\(number(y(tick) + 4))\" text-anchor=\"end\" stroke=\"none\">\(escape(compact(tick)))</text>\n"
            tick += yStep
        }
        tick = 0
        while tick <= xCeiling + xStep / 2 {
            svg += "<text x=\"\(number(x(tick)))\" y=\"\(number(top + plotHeight + 16))\" text-anchor=\"middle\" stroke=\"none\">\(escape(compact(tick)))</text>\n"
            tick += xStep
        }
        svg += "</g>\n"
        svg += "<text x=\"\(number(left + plotWidth / 2))\" y=\"\(number(height - 10))\" text-anchor=\"middle\">\(escape(lossName))</text>\n"
        svg += "<text transform=\"translate(18 \(number(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">predicted total ms</text>\n"
        if let budget {
            svg += "<line x1=\"\(number(x(budget)))\" y1=\"\(number(top))\" x2=\"\(number(x(budget)))\" y2=\"\(number(top + plotHeight))\" stroke=\"#e15759\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(number(x(budget) + 4))\" y=\"\(number(top + 10))\" fill=\"#e15759\">budget</text>\n"
        }
        for p in finite {
            let cx = number(x(p.loss)), cy = number(y(p.totalMilliseconds))
            let fill = p.withinBudget ? "#4e79a7" : "white"
            svg += "<g><title>\(escape("\(p.label): \(compact(p.loss)) lost, \(compact(p.totalMilliseconds)) ms"))</title>"
            svg += "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"4\" fill=\"\(fill)\" stroke=\"#4e79a7\"/>"
            if p.chosen { svg += "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"8\" fill=\"none\" stroke=\"#e15759\" stroke-width=\"2\"/>" }
            svg += "<text x=\"\(number(x(p.loss) + 7))\" y=\"\(number(y(p.totalMilliseconds) - 5))\" fill=\"#333\">\(escape(p.label))</text></g>\n"
        }
        svg += "<line x1=\"\(number(left))\" y1=\"\(number(y(0)))\" x2=\"\(number(left + plotWidth))\" y2=\"\(number(y(0)))\" stroke=\"#333\"/>\n"
        svg += "<line x1=\"\(number(left))\" y1=\"\(number(top))\" x2=\"\(number(left))\" y2=\"\(number(y(0)))\" stroke=\"#333\"/>\n"
        svg += "</svg>\n"
        return svg
    }
}
