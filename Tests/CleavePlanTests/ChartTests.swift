import CleaveIR
import XCTest

@testable import CleavePlan

final class ChartTests: XCTestCase {
    /// Checks that `text` is one well-formed XML element: tags balance and
    /// nest, attributes are quoted, and `&` only starts an entity.
    func assertWellFormed(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        var stack: [String] = []
        var index = text.startIndex
        var roots = 0
        while let open = text[index...].firstIndex(of: "<") {
            let between = text[index..<open]
            for (offset, character) in between.enumerated() where character == "&" {
                let rest = between.dropFirst(offset)
                XCTAssertTrue(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains { rest.hasPrefix($0) }, "bare & in \(rest.prefix(20))", file: file, line: line)
            }
            guard let close = text[open...].firstIndex(of: ">") else { return XCTFail("unclosed tag", file: file, line: line) }
            let tag = text[text.index(after: open)..<close]
            index = text.index(after: close)
            if tag.hasPrefix("/") {
                XCTAssertEqual(stack.popLast(), String(tag.dropFirst()), "mismatched </\(tag.dropFirst())>", file: file, line: line)
                continue
            }
            let name = String(tag.prefix { $0 != " " && $0 != "/" && $0 != "\n" })
            XCTAssertEqual(tag.filter { $0 == "\"" }.count % 2, 0, "unbalanced quotes in <\(name)>", file: file, line: line)
            if stack.isEmpty { roots += 1 }
            if !tag.hasSuffix("/") { stack.append(name) }
        }
        XCTAssertEqual(stack, [], "unclosed elements", file: file, line: line)
        XCTAssertEqual(roots, 1, "one root element", file: file, line: line)
    }

    func testChartIsWellFormedWithOneBarGroupPerCandidate() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        for link in [Link(bitsPerSecond: 1e6, rttMilliseconds: 20), Link(bitsPerSecond: 1e10, rttMilliseconds: 0)] {
            let plan = try Planner.plan(graph: graph, analysis: analysis, edge: syntheticProfile(scale: 8), cloud: syntheticProfile(),
                                        link: link, codec: .none)
            let svg = plan.svgChart()
            XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            assertWellFormed(svg)
            XCTAssertEqual(svg.components(separatedBy: "<g class=\"candidate").count - 1, plan.candidates.count)
            XCTAssertEqual(svg.components(separatedBy: "<g class=\"candidate best\"").count - 1, 1)
            XCTAssertEqual(svg.components(separatedBy: "★ best").count - 1, 1)
            for candidate in plan.candidates where candidate.label.count <= 30 {
                XCTAssertTrue(svg.contains(">\(escape(candidate.label))<"), candidate.label)
            }
        }
    }

    func testLabelsAreEscaped() {
        XCTAssertEqual(escape("a<b & \"c\" > 'd'"), "a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;")
        assertWellFormed("<svg><text>\(escape("x & <y>"))</text></svg>")
    }

    func testAxisStepsAreRound() {
        XCTAssertEqual(niceStep(0.07), 0.1, accuracy: 1e-12)
        XCTAssertEqual(niceStep(3), 5)
        XCTAssertEqual(niceStep(12), 20)
        XCTAssertEqual(niceStep(1000), 1000)
        XCTAssertEqual(niceStep(0), 1)
    }
}
