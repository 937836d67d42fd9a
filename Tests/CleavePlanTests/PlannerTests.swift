import CleaveIR
import CleaveRuntime
import XCTest

@testable import CleavePlan

/// Planner.plan on whole graphs: its optimum against every valid partition.
final class PlannerTests: XCTestCase {
    /// A random DAG of real ONNX nodes over float tensors of shapes [1, 1],
    /// [1, 16], [16, 1] and [16, 16] (all mutually broadcastable): unary maps,
    /// Add/Mul of any two earlier tensors (so tensors get several readers), and
    /// ReduceSum to shrink; one or two model inputs; the last node and one
    /// random node are outputs.
    func randomGraph(_ random: inout SplitMix64, nodes count: Int) throws -> (Graph, Analysis) {
        let shapes: [[Int]] = [[1, 1], [1, 16], [16, 1], [16, 16]]
        var values: [(String, [Int])] = []
        var inputs: [ValueInfo] = []
        for i in 0..<(1 + Int(random.next() % 2)) {
            let shape = i == 0 ? [16, 16] : shapes[Int(random.next() % 4)]
            inputs.append(ValueInfo(name: "x\(i)", dtype: .float, dims: shape.map { .fixed($0) }))
            values.append(("x\(i)", shape))
        }
        var nodes: [Node] = []
        let initializers = [Initializer(name: "axes0", tensor: Tensor([1], int64s: [0]))]
        for n in 0..<count {
            let output = "t\(n)"
            let a = values[Int(random.next() % UInt64(values.count))]
            switch random.next() % 4 {
            case 0, 1:
                let b = values[Int(random.next() % UInt64(values.count))]
                let shape = zip(a.1, b.1).map { Swift.max($0, $1) }
                nodes.append(Node(name: "n\(n)", opType: random.next() % 2 == 0 ? "Add" : "Mul", inputs: [a.0, b.0], outputs: [output]))
                values.append((output, shape))
            case 2:
                nodes.append(Node(name: "n\(n)", opType: ["Relu", "Sigmoid", "Tanh"][Int(random.next() % 3)], inputs: [a.0], outputs: [output]))
                values.append((output, a.1))
            default:
                nodes.append(Node(name: "n\(n)", opType: "ReduceSum", inputs: [a.0, "axes0"], outputs: [output]))
                values.append((output, [1, a.1[1]]))
            }
        }
        let last = values[values.count - 1].0
        let extra = values[inputs.count + Int(random.next() % UInt64(count))].0
        let outputs = Array(Set([last, extra])).sorted().map { ValueInfo(name: $0, dtype: .float, dims: nil) }
        var model = ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)])
        model.producerName = "test"
        var graph = Graph(model: model, name: "random", inputs: inputs, outputs: outputs, initializers: initializers, nodes: nodes)
        try graph.validate()
        return (graph, try Analysis(graph: graph))
    }

    /// The lowest total over every valid partition, computed from its definition.
    func bruteForce(graph: Graph, analysis: Analysis, edge: DeviceProfile, cloud: DeviceProfile, link: Link) -> Double {
        let edgeTimes = edge.predictMilliseconds(graph: graph, analysis: analysis)
        let cloudTimes = cloud.predictMilliseconds(graph: graph, analysis: analysis)
        let n = graph.nodes.count
        var best = Double.infinity
        for mask in 0..<(1 << n) {
            let side = Set((0..<n).filter { mask & (1 << $0) != 0 })
            guard let partition = try? Partition(graph: graph, edge: side) else { continue }
            var total = 0.0
            if !partition.edgeNodes.isEmpty { total += edge.runOverhead + partition.edgeNodes.reduce(0) { $0 + edgeTimes[$1] } }
            if !partition.cloudNodes.isEmpty {
                total += cloud.runOverhead + partition.cloudNodes.reduce(0) { $0 + cloudTimes[$1] }
                let bytes = partition.boundary.reduce(0) { $0 + (analysis.types[$1]?.byteCount ?? 0) }
                total += link.serializationMilliseconds(bytes: bytes) + link.rttMilliseconds
            }
            best = Swift.min(best, total)
        }
        return best
    }

    func testOptimumEqualsBruteForceOnRandomGraphs() throws {
        var random = SplitMix64(seed: 2024)
        // An edge that pays 2 ms a node whatever its size, and a link where 1 KB takes
        // 0.8 to 80 ms: running a ReduceSum or two on the edge before sending can pay off.
        var edge = syntheticProfile(name: "edge")
        for kind in OpKind.allCases { edge.models[kind]?.coefficients = kind.features.map { $0 == .constant ? 2 : 1e-9 } }
        let cloud = syntheticProfile(name: "cloud", threads: 2)
        var placements: [PlanCandidate.Placement: Int] = [:]
        for trial in 0..<100 {
            let (graph, analysis) = try randomGraph(&random, nodes: 2 + trial % 9)
            let link = Link(bitsPerSecond: [1e5, 1e6, 1e7][trial % 3], rttMilliseconds: [0, 1, 5][(trial / 3) % 3])
            let plan = try Planner.plan(graph: graph, analysis: analysis, edge: edge, cloud: cloud, link: link, codec: .none)
            let expected = bruteForce(graph: graph, analysis: analysis, edge: edge, cloud: cloud, link: link)
            XCTAssertEqual(plan.best.totalMilliseconds, expected, accuracy: 1e-9 * max(1, expected), "trial \(trial)")
            XCTAssertEqual(plan.candidates.filter { $0.placement == .edgeOnly }.count, 1)
            XCTAssertEqual(plan.candidates.filter { $0.placement == .cloudOnly }.count, 1)
            for candidate in plan.candidates {
                XCTAssertGreaterThanOrEqual(candidate.totalMilliseconds, plan.best.totalMilliseconds - 1e-12, "trial \(trial): \(candidate.label)")
            }
            placements[plan.best.placement, default: 0] += 1
        }
        // The trials exercise all three outcomes, so the comparison is not trivial.
        XCTAssertGreaterThanOrEqual(placements[.split] ?? 0, 5, "\(placements)")
        XCTAssertGreaterThan(placements[.edgeOnly] ?? 0, 0, "\(placements)")
    }

    func testExtremesFollowTheirDefinitions() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        let edge = syntheticProfile(name: "edge", scale: 8), cloud = syntheticProfile(name: "cloud")
        let link = Link(bitsPerSecond: 10e6, rttMilliseconds: 20)
        let plan = try Planner.plan(graph: graph, analysis: analysis, edge: edge, cloud: cloud, link: link, codec: .none)
        guard let edgeOnly = plan.candidates.first(where: { $0.placement == .edgeOnly }),
              let cloudOnly = plan.candidates.first(where: { $0.placement == .cloudOnly }) else {
            return XCTFail("extremes missing")
        }
        XCTAssertNil(edgeOnly.partition)
        XCTAssertEqual(edgeOnly.transferMilliseconds, 0)
        XCTAssertEqual(edgeOnly.cloudMilliseconds, 0)
        XCTAssertEqual(edgeOnly.boundaryBytes, 0)
        XCTAssertEqual(edgeOnly.edgeMilliseconds, plan.edgeTotalMilliseconds, accuracy: 1e-9)
        // Cloud-only sends the input (float32[1, 3, 32, 32]) and pays the round trip.
        XCTAssertEqual(cloudOnly.boundary.map(\.name), ["input"])
        XCTAssertEqual(cloudOnly.boundaryBytes, 3 * 32 * 32 * 4)
        XCTAssertEqual(cloudOnly.transferMilliseconds, Double(3 * 32 * 32 * 4) * 8 / 10e6 * 1000 + 20, accuracy: 1e-9)
        XCTAssertEqual(cloudOnly.edgeMilliseconds, 0)
        XCTAssertEqual(cloudOnly.cloudMilliseconds, plan.cloudTotalMilliseconds, accuracy: 1e-9)
        // Ordered from all-cloud to all-edge; labels name the tensor after which the cut is.
        XCTAssertEqual(plan.candidates.first?.placement, .cloudOnly)
        XCTAssertEqual(plan.candidates.last?.placement, .edgeOnly)
        XCTAssertTrue(plan.candidates.contains { $0.label == "after /maxpool/MaxPool_output_0" }, plan.candidates.map(\.label).description)
    }

    func testSeveralTensorsCrossInsideAResidualBlock() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        // An infinitely fast link with no round trip and a slow edge: every split after the stem is cheap,
        // and cutting inside the block sends both the branch and the skip connection.
        let plan = try Planner.plan(graph: graph, analysis: analysis, edge: syntheticProfile(), cloud: syntheticProfile(),
                                    link: Link(bitsPerSecond: 1e12, rttMilliseconds: 0), codec: .none, maxCandidates: 100)
        let inside = plan.candidates.first { $0.label == "after /layer1/layer1.0/conv1/Conv_output_0" }
        XCTAssertEqual(inside?.boundary.map(\.name), ["/maxpool/MaxPool_output_0", "/layer1/layer1.0/conv1/Conv_output_0"])
    }

    func testBottlenecksFromMetadataAreLabelled() throws {
        var (graph, _) = try loadFixture("pytorch_style")
        graph.model.metadata.append((key: "cleave.bottlenecks", value: "/layer1/layer1.0/relu_1/Relu_output_0, /avgpool/GlobalAveragePool_output_0"))
        let analysis = try Analysis(graph: graph)
        XCTAssertEqual(Planner.bottlenecks(of: graph), ["/layer1/layer1.0/relu_1/Relu_output_0", "/avgpool/GlobalAveragePool_output_0"])
        let plan = try Planner.plan(graph: graph, analysis: analysis, edge: syntheticProfile(scale: 8), cloud: syntheticProfile(),
                                    link: .default, codec: .none, maxCandidates: 0)
        let marked = plan.candidates.filter { $0.label.hasSuffix("(bottleneck)") }
        XCTAssertEqual(marked.map(\.label), ["at /layer1/layer1.0/relu_1/Relu_output_0 (bottleneck)", "at /avgpool/GlobalAveragePool_output_0 (bottleneck)"])
        XCTAssertEqual(marked.first?.boundary.map(\.name), ["/layer1/layer1.0/relu_1/Relu_output_0"])

        assertThrowsCleaveError(.badInput, containing: "'nope'") {
            try Planner.plan(graph: graph, analysis: analysis, edge: syntheticProfile(), cloud: syntheticProfile(),
                             link: .default, codec: .none, bottlenecks: ["nope"])
        }
    }

    func testCodecsShrinkTheBoundary() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        func cloudOnlyBytes(_ codec: BoundaryCodec) throws -> Int {
            let plan = try Planner.plan(graph: graph, analysis: analysis, edge: syntheticProfile(), cloud: syntheticProfile(),
                                        link: .default, codec: codec)
            return plan.candidates.first { $0.placement == .cloudOnly }?.boundaryBytes ?? -1
        }
        XCTAssertEqual(try cloudOnlyBytes(.none), 12288)
        XCTAssertEqual(try cloudOnlyBytes(.int8), 3072)
        // Measured on a synthetic uniform input: noise barely deflates, but never grows past int8 by much.
        let zlib = try cloudOnlyBytes(.int8Zlib)
        XCTAssertGreaterThan(zlib, 1000)
        XCTAssertLessThan(zlib, 3072 + 100)
    }

    func testJSONReportsEveryNodeAndOneBest() throws {
        let (graph, analysis) = try loadFixture("tf2onnx_style")
        let plan = try Planner.plan(graph: graph, analysis: analysis, edge: .builtInEdge, cloud: .builtInCloud,
                                    link: .default, codec: .int8)
        let json = plan.json
        XCTAssertEqual(json.objectValue?.map(\.0), ["link", "codec", "edge", "cloud", "best", "candidates", "nodes"])
        XCTAssertEqual(json["nodes"]?.arrayValue?.count, graph.nodes.count)
        XCTAssertEqual(json["candidates"]?.arrayValue?.filter { $0["best"]?.boolValue == true }.count, 1)
        XCTAssertEqual(json["codec"]?.stringValue, "int8")
        let total = json["best"]?["total_ms"]?.doubleValue ?? -1
        XCTAssertEqual(total, plan.best.totalMilliseconds, accuracy: 1e-12)
        XCTAssertTrue(plan.table().contains("*"))
    }
}
