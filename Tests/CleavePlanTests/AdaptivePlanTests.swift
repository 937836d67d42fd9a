import CleaveIR
import CleaveRuntime
import XCTest

@testable import CleavePlan

/// Planner.adaptivePlan: its envelope against the single-link optimum at every bandwidth.
extension PlannerTests {
    /// An edge that pays 2 ms a node and a cloud twice as fast as the synthetic profile: splits pay off at some bandwidths.
    func adaptiveProfiles() -> (DeviceProfile, DeviceProfile) {
        var edge = syntheticProfile(name: "edge")
        for kind in OpKind.allCases { edge.models[kind]?.coefficients = kind.features.map { $0 == .constant ? 2 : 1e-9 } }
        return (edge, syntheticProfile(name: "cloud", threads: 2))
    }

    func testAdaptiveEnvelopeIsTheOptimumAtEveryBandwidth() throws {
        var random = SplitMix64(seed: 7)
        let (edge, cloud) = adaptiveProfiles()
        var distinct = 0
        for trial in 0..<40 {
            let (graph, analysis) = try randomGraph(&random, nodes: 3 + trial % 8)
            let rtt = [0.0, 2, 10][trial % 3]
            // Nothing dropped: the kept cuts are the exact envelope.
            let plan = try Planner.adaptivePlan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                                lowerBitsPerSecond: 1e4, upperBitsPerSecond: 1e8, rttMilliseconds: rtt,
                                                codec: .none, maxCuts: 100, minimumGain: 0)
            distinct = Swift.max(distinct, plan.envelope.count)
            XCTAssertEqual(plan.worstLoss, 0, accuracy: 1e-12, "trial \(trial)")
            for i in 0...30 {
                let bps = 1e4 * pow(1e4, Double(i) / 30)
                let optimum = try Planner.plan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                               link: Link(bitsPerSecond: bps, rttMilliseconds: rtt), codec: .none).best.totalMilliseconds
                let chosen = plan.best(bitsPerSecond: bps).totalMilliseconds(bitsPerSecond: bps, rttMilliseconds: rtt)
                XCTAssertEqual(chosen, optimum, accuracy: 1e-9 * Swift.max(1, optimum), "trial \(trial) at \(bps) bps")
            }
            // The envelope's pieces tile the range from low to high bandwidth.
            XCTAssertEqual(plan.envelope.first?.lower ?? 0, 1e4, accuracy: 1e-6)
            XCTAssertEqual(plan.envelope.last?.upper ?? 0, 1e8, accuracy: 1e-2)
            for (a, b) in zip(plan.envelope, plan.envelope.dropFirst()) {
                XCTAssertEqual(a.upper, b.lower, accuracy: 1e-9 * a.upper, "trial \(trial)")
            }
        }
        XCTAssertGreaterThanOrEqual(distinct, 3, "the trials should have several optima over the range")
    }

    func testAdaptiveThinningKeepsTheLossItReports() throws {
        var random = SplitMix64(seed: 11)
        let (edge, cloud) = adaptiveProfiles()
        for trial in 0..<30 {
            let (graph, analysis) = try randomGraph(&random, nodes: 6 + trial % 5)
            let plan = try Planner.adaptivePlan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                                lowerBitsPerSecond: 1e4, upperBitsPerSecond: 1e8, rttMilliseconds: 1,
                                                codec: .none, maxCuts: 2)
            XCTAssertLessThanOrEqual(plan.cuts.filter { $0.reason == .optimal }.count, 2 + 2, "trial \(trial)")
            // Edge-only (fallback) and cloud-only (probe) are always there, ids in order from cloud to edge.
            XCTAssertEqual(plan.cuts.first?.placement, .cloudOnly)
            XCTAssertEqual(plan.cuts.last?.placement, .edgeOnly)
            XCTAssertEqual(plan.cuts.map(\.id), plan.cuts.indices.map { "c\($0)" })
            XCTAssertNotEqual(plan.defaultCut.placement, .edgeOnly)
            for i in 0...40 {
                let bps = 1e4 * pow(1e4, Double(i) / 40)
                let optimum = try Planner.plan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                               link: Link(bitsPerSecond: bps, rttMilliseconds: 1), codec: .none).best.totalMilliseconds
                let chosen = plan.best(bitsPerSecond: bps).totalMilliseconds(bitsPerSecond: bps, rttMilliseconds: 1)
                XCTAssertGreaterThanOrEqual(chosen, optimum - 1e-9 * optimum)
                XCTAssertLessThanOrEqual(chosen, optimum * (1 + plan.worstLoss) + 1e-9, "trial \(trial) at \(bps) bps")
            }
            // The kept cuts' intervals are where each is best among them, without overlaps.
            let intervals = plan.cuts.compactMap(\.interval).sorted { $0.lower < $1.lower }
            for (a, b) in zip(intervals, intervals.dropFirst()) { XCTAssertLessThanOrEqual(a.upper, b.lower * (1 + 1e-9)) }
        }
    }

    func testAdaptiveOptionsAreHonoured() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        let (edge, cloud) = adaptiveProfiles()
        let plan = try Planner.adaptivePlan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                            lowerBitsPerSecond: 5e5, upperBitsPerSecond: 2e8, rttMilliseconds: 20,
                                            codec: .none, edgeFallback: false, probe: false)
        XCTAssertTrue(plan.cuts.allSatisfy { $0.reason == .optimal && $0.interval != nil }, "\(plan.cuts.map(\.reason))")
        XCTAssertThrowsError(try Planner.adaptivePlan(graph: graph, analysis: analysis, edge: edge, cloud: cloud,
                                                      lowerBitsPerSecond: 2e8, upperBitsPerSecond: 5e5, rttMilliseconds: 20, codec: .none))
        // The chart draws a line per cut and the envelope.
        let svg = plan.svgChart()
        XCTAssertEqual(svg.components(separatedBy: "<g class=\"cut\">").count - 1, plan.cuts.count)
        XCTAssertTrue(svg.contains("<g class=\"envelope\">"))
        // The JSON lists every cut with its interval and both ends' predictions.
        let cuts = plan.json["cuts"]?.arrayValue ?? []
        XCTAssertEqual(cuts.count, plan.cuts.count)
        for cut in cuts {
            XCTAssertNotNil(cut["interval"]?["lower_bps"]?.doubleValue)
            XCTAssertNotNil(cut["at_upper"]?["total_ms"]?.doubleValue)
        }
    }
}
