import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

@testable import CleavePlan

final class ProfileTests: XCTestCase {
    func testJSONRoundTripKeepsEveryField() throws {
        let context = DeviceProfile.ContextModel(features: DeviceProfile.ContextModel.features, coefficients: [0.125, 0.0004, 2e-7, 0.1],
                                                 samples: 12, r2: 0.9, mape: 0.07)
        var profile = syntheticProfile(name: "board", threads: 1, overhead: 0.0012, context: context).slowed(by: 8)
        profile.models[.binary]?.opFactors = ["Div": 1.75, "Add": 0.8]
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try profile.write(to: directory + "/p.json")
        let loaded = try DeviceProfile.load(path: directory + "/p.json")
        XCTAssertEqual(loaded.json, profile.json)
        XCTAssertEqual(loaded.slowdown, 8)
        XCTAssertEqual(loaded.context, context)
        XCTAssertEqual(loaded.models, profile.models)

        // The fields schemas/profile.schema.json documents, in order.
        let json = profile.json
        XCTAssertEqual(json.objectValue?.map(\.0), ["format", "version", "name", "threads", "slowdown", "machine", "sweep",
                                                     "run_overhead_ms", "cache_bytes", "l2_cache_bytes", "context", "kinds"])
        XCTAssertEqual(json["kinds"]?.objectValue?.map(\.0), OpKind.allCases.map(\.rawValue))
        for (_, model) in json["kinds"]?.objectValue ?? [] {
            XCTAssertEqual(model.objectValue?.map(\.0), ["features", "coefficients", "op_factors", "samples", "r2", "mape"])
        }
        XCTAssertEqual(json["machine"]?.objectValue?.map(\.0), ["cpu", "cores", "measured_at"])
    }

    func testSchemaNamesEveryKindAndFeature() throws {
        let path = fixturesDirectory + "/../schemas/profile.schema.json"
        let schema = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertEqual(schema["$schema"]?.stringValue, "https://json-schema.org/draft/2020-12/schema")
        let text = schema.serialized()
        for kind in OpKind.allCases { XCTAssertTrue(text.contains("\"\(kind.rawValue)\""), kind.rawValue) }
        for feature in Feature.allCases { XCTAssertTrue(text.contains("\"\(feature.rawValue)\""), feature.rawValue) }
        XCTAssertEqual(schema["required"]?.arrayValue?.compactMap(\.stringValue),
                       syntheticProfile().json.objectValue?.map(\.0))
    }

    func testMalformedProfilesNameTheField() throws {
        let good = syntheticProfile().json
        func broken(_ key: String, _ value: JSON?) -> JSON {
            guard case .object(let members) = good else { return good }
            return .object(members.compactMap { $0.0 == key ? value.map { v in (key, v) } : $0 })
        }
        assertThrowsCleaveError(.badInput, containing: "not a device profile") { try DeviceProfile(json: broken("format", .string("x"))) }
        assertThrowsCleaveError(.badInput, containing: "version") { try DeviceProfile(json: broken("version", .int(2))) }
        assertThrowsCleaveError(.badInput, containing: "slowdown") { try DeviceProfile(json: broken("slowdown", .int(0))) }
        assertThrowsCleaveError(.badInput, containing: "cache_bytes") { try DeviceProfile(json: broken("cache_bytes", nil)) }
        var kinds = good["kinds"]?.objectValue ?? []
        kinds.removeAll { $0.0 == "lrn" }
        assertThrowsCleaveError(.badInput, containing: "lrn") { try DeviceProfile(json: broken("kinds", .object(kinds))) }
        kinds = good["kinds"]?.objectValue ?? []
        kinds[0].1 = .object([("features", .array([.string("const")])), ("coefficients", .array([.double(-1)])),
                              ("samples", .int(1)), ("r2", .int(1)), ("mape", .int(0))])
        assertThrowsCleaveError(.badInput, containing: "kinds.conv.coefficients") { try DeviceProfile(json: broken("kinds", .object(kinds))) }
        kinds[0].1 = .object([("features", .array([.string("const")])), ("coefficients", .array([.double(1)])),
                              ("op_factors", .object([("Conv", .int(0))])), ("samples", .int(1)), ("r2", .int(1)), ("mape", .int(0))])
        assertThrowsCleaveError(.badInput, containing: "kinds.conv.op_factors.Conv") { try DeviceProfile(json: broken("kinds", .object(kinds))) }
        // A profile written before op factors existed reads with none.
        kinds[0].1 = .object([("features", .array([.string("const")])), ("coefficients", .array([.double(1)])),
                              ("samples", .int(1)), ("r2", .int(1)), ("mape", .int(0))])
        XCTAssertEqual(try DeviceProfile(json: broken("kinds", .object(kinds))).models[.conv]?.opFactors, [:])
        assertThrowsCleaveError(.io, containing: "cannot open") { try DeviceProfile.load(path: "/nonexistent/profile.json") }
    }

    func testBuiltInProfilesParseAndSayWhatTheyAssume() {
        let edge = DeviceProfile.builtInEdge, cloud = DeviceProfile.builtInCloud
        XCTAssertEqual(edge.threads, 1)
        XCTAssertEqual(edge.slowdown, 8)
        XCTAssertEqual(cloud.threads, 2)
        XCTAssertEqual(cloud.slowdown, 1)
        for profile in [edge, cloud] {
            XCTAssertEqual(Set(profile.models.keys), Set(OpKind.allCases))
            XCTAssertEqual(profile.sweep, "full")
            XCTAssertGreaterThan(profile.cacheBytes, 0)
            XCTAssertTrue(profile.models.values.allSatisfy { $0.samples >= 4 }, profile.name)
        }
    }

    func testPredictionGrowsWithWorkAndSlowdown() throws {
        func conv(channels: Int, size: Int) throws -> (Graph, Analysis) {
            let layer = ConvConfig(cin: channels, cout: channels, size: size, kernel: 3, stride: 1).build()
            return (layer.graph, try Analysis(graph: layer.graph))
        }
        for profile in [DeviceProfile.builtInEdge, .builtInCloud] {
            var previous = 0.0
            for channels in [8, 16, 32, 64, 128] {
                let (graph, analysis) = try conv(channels: channels, size: 28)
                let predicted = profile.predictMilliseconds(graph: graph, analysis: analysis)[0]
                XCTAssertGreaterThan(predicted, previous, "\(profile.name): \(channels) channels")
                previous = predicted
            }
        }
        let (graph, analysis) = try conv(channels: 64, size: 28)
        let base = DeviceProfile.builtInEdge.slowed(by: 1).predictTotalMilliseconds(graph: graph, analysis: analysis)
        XCTAssertEqual(DeviceProfile.builtInEdge.predictTotalMilliseconds(graph: graph, analysis: analysis), 8 * base, accuracy: 1e-9 * base)
    }

    func testEveryFixturePredictsAFiniteTimePerNode() throws {
        for name in modelFixtures {
            let (graph, analysis) = try loadFixture(name)
            for profile in [DeviceProfile.builtInEdge, .builtInCloud] {
                let times = profile.predictMilliseconds(graph: graph, analysis: analysis)
                XCTAssertEqual(times.count, graph.nodes.count)
                XCTAssertTrue(times.allSatisfy { $0.isFinite && $0 >= 0 }, name)
                // A fixture is a few dozen small nodes: between a microsecond and a few ms on this machine.
                let total = profile.slowed(by: 1).predictTotalMilliseconds(graph: graph, analysis: analysis)
                XCTAssertGreaterThan(total, 0.001, name)
                XCTAssertLessThan(total, 5, name)
            }
        }
    }

    /// LSTM, GRU and RNN take the kind of the product they repeat every
    /// step, H·Rᵀ: a matrix-vector one at batch 1, a matrix product above.
    func testRecurrentLayersTakeTheKindOfTheirStepProduct() throws {
        func analysis(_ op: String, gates: Int, batch: Int, layout: Int = 0) throws -> Analysis {
            let x: Shape = layout == 0 ? [10, batch, 16] : [batch, 10, 16]
            let node = Node(name: "rnn", opType: op, inputs: ["x", "w", "r"], outputs: ["y"],
                            attributes: [Attribute(name: "hidden_size", value: .int(32)), Attribute(name: "layout", value: .int(layout))])
            let graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 14)]), name: "g",
                              inputs: [ValueInfo(name: "x", dtype: .float, dims: x.dims.map { .fixed($0) })],
                              outputs: [ValueInfo(name: "y", dtype: nil, dims: nil)],
                              initializers: [Initializer(name: "w", tensor: Tensor(zeros: .float, [1, gates * 32, 16])),
                                             Initializer(name: "r", tensor: Tensor(zeros: .float, [1, gates * 32, 32]))],
                              nodes: [node])
            return try Analysis(graph: graph)
        }
        for (op, gates) in [("LSTM", 4), ("GRU", 3), ("RNN", 1)] {
            XCTAssertEqual(OpKind.of(0, in: try analysis(op, gates: gates, batch: 1)), .gemv, op)
            XCTAssertEqual(OpKind.of(0, in: try analysis(op, gates: gates, batch: 4)), .gemm, op)
            XCTAssertEqual(OpKind.of(0, in: try analysis(op, gates: gates, batch: 4, layout: 1)), .gemm, op)
            let step = try XCTUnwrap(MatrixShape(0, in: try analysis(op, gates: gates, batch: 4, layout: 1)))
            XCTAssertEqual([step.m, step.n, step.k], [4, gates * 32, 32], op)
        }
    }

    func testKindsFollowTheRuntimesChoiceOfMethod() throws {
        func kind(_ config: ConvConfig) throws -> OpKind? {
            let layer = config.build()
            return OpKind.of(0, in: try Analysis(graph: layer.graph))
        }
        XCTAssertEqual(try kind(ConvConfig(cin: 64, cout: 64, size: 14, kernel: 1, stride: 1)), .convPointwise)
        XCTAssertEqual(try kind(ConvConfig(cin: 64, cout: 64, size: 14, kernel: 1, stride: 2)), .conv)
        XCTAssertEqual(try kind(ConvConfig(cin: 64, cout: 64, size: 14, kernel: 3, stride: 1, group: 64)), .convDepthwise)
        XCTAssertEqual(try kind(ConvConfig(cin: 64, cout: 64, size: 14, kernel: 3, stride: 1, group: 2)), .conv)
        let gemv = GemmConfig(m: 1, k: 64, n: 10, transB: true).build()
        XCTAssertEqual(OpKind.of(0, in: try Analysis(graph: gemv.graph)), .gemv)
        let gemm = GemmConfig(m: 8, k: 64, n: 10, transB: false, matMul: true).build()
        XCTAssertEqual(OpKind.of(0, in: try Analysis(graph: gemm.graph)), .gemm)

        // A 3×3 conv over 512 channels at 56×56 is built in tiles of whole output
        // rows, 2 of them within the 2 MiB column budget (4608 rows × 112
        // positions); its weights are packed once per tile.
        let wide = ConvConfig(cin: 512, cout: 512, size: 56, kernel: 3, stride: 1).build()
        let analysis = try Analysis(graph: wide.graph)
        XCTAssertEqual(ConvShape(0, in: analysis)?.calls, 28)
        let values = featureValues(0, features: [.weightBytes, .packedBytes], in: analysis, context: PredictionContext(cold: false, cacheBytes: 32 << 20))
        XCTAssertEqual(values[1], 28 * values[0])
    }

    /// Einsum is predicted by its first product, as the runtime runs it: a
    /// batched sgemm (sgemv with one row), or for one operand a copy or a sum.
    func testEinsumKindsFollowItsProducts() throws {
        func analysis(_ equation: String, _ shapes: [[Int]]) throws -> Analysis {
            let names = shapes.indices.map { "x\($0)" }
            let node = Node(name: "e", opType: "Einsum", inputs: names, outputs: ["y"],
                            attributes: [Attribute(name: "equation", value: .string(Array(equation.utf8)))])
            let graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 12)]), name: "einsum",
                              inputs: zip(names, shapes).map { ValueInfo(name: $0, dtype: .float, dims: $1.map { .fixed($0) }) },
                              outputs: [ValueInfo(name: "y", dtype: nil, dims: nil)], initializers: [], nodes: [node])
            return try Analysis(graph: graph)
        }
        let scores = try analysis("bhid,bhjd->bhij", [[2, 12, 64, 32], [2, 12, 64, 32]])
        XCTAssertEqual(OpKind.of(0, in: scores), .gemm)
        let shape = try XCTUnwrap(MatrixShape(0, in: scores))
        XCTAssertEqual([shape.m, shape.n, shape.k], [64, 64, 32])
        XCTAssertEqual(scores.costs[0].macs, 2 * 12 * 64 * 64 * 32)
        XCTAssertEqual(OpKind.of(0, in: try analysis("bij,bj->bi", [[3, 4, 5], [3, 5]])), .gemv)
        XCTAssertEqual(OpKind.of(0, in: try analysis("bij->bji", [[3, 4, 5]])), .transpose)
        XCTAssertEqual(OpKind.of(0, in: try analysis("bij->b", [[3, 4, 5]])), .reduce)
    }

    /// An im2col Conv with work for two threads gives each its own tiles; the
    /// planner's ConvShape and the kernel read the same rule.
    func testIm2colTilesSplitAcrossThreadsByWork() {
        func facts(_ tiling: Im2colTiling) -> [Int] { [tiling.width, tiling.perPlane, tiling.splits ? 1 : 0] }
        // 192 → 64 channels, 3×3 over 8×8: 7 M multiply-adds, one tile at 1 thread, 4 rows each at 2.
        let medium = { (threads: Int) in
            Im2colTiling(positions: 64, rowLength: 8, columnRows: 192 * 9, groupOutputChannels: 64, planes: 1, threads: threads)
        }
        XCTAssertEqual(facts(medium(1)), [64, 1, 0])
        XCTAssertEqual(facts(medium(2)), [32, 2, 1])
        // caffe2_style's first Conv, 3 → 8 channels, 5×5 over 16×16 outputs: 150 k multiply-adds stay on one thread.
        let small = Im2colTiling(positions: 256, rowLength: 16, columnRows: 75, groupOutputChannels: 8, planes: 1, threads: 2)
        XCTAssertEqual(facts(small), [256, 1, 0])
        // Four groups are four planes: one thread each, no plane cut.
        let grouped = Im2colTiling(positions: 49, rowLength: 7, columnRows: 16 * 49, groupOutputChannels: 128, planes: 4, threads: 2)
        XCTAssertEqual(facts(grouped), [49, 1, 1])
        // VGG's 64-channel 3×3 Conv at 56×56: each thread's tiles keep to half the
        // 2 MiB column budget (8 rows), and 8 tiles of 7 rows give both threads 4.
        let large = Im2colTiling(positions: 56 * 56, rowLength: 56, columnRows: 64 * 9, groupOutputChannels: 64, planes: 1, threads: 2)
        XCTAssertEqual(facts(large), [7 * 56, 8, 1])
        // ResNet-50's last 3×3 Conv, 512 → 512 channels over 7×7: with 9 MiB of
        // weights and more channels than positions, its product splits over the
        // channels instead, and the plane stays whole.
        let deep = Im2colTiling(positions: 49, rowLength: 7, columnRows: 512 * 9, groupOutputChannels: 512, planes: 1, threads: 2)
        XCTAssertEqual(facts(deep), [49, 1, 0])
        // A 1-D Conv keeps its one row whole.
        let line = Im2colTiling(positions: 4096, rowLength: 4096, columnRows: 64 * 3, groupOutputChannels: 64, planes: 1, threads: 2)
        XCTAssertFalse(line.splits)
    }

    /// spilled_column_bytes counts a Conv's im2col matrix when one band of it
    /// outgrows the L2 cache: VGG's 64-channel 3×3 Conv at 224 (bands of about
    /// 2 MiB), not the digits model's 8-channel one at 16 (73 KiB in all);
    /// with no L2 known, every band spills.
    func testSpilledColumnBytesCountBandsLargerThanL2() throws {
        func values(_ config: ConvConfig, l2: Int) throws -> (spilled: Double, column: Double) {
            let analysis = try Analysis(graph: config.build().graph)
            let context = PredictionContext(cold: false, cacheBytes: 32 << 20, l2CacheBytes: l2)
            let v = featureValues(0, features: [.spilledColumnBytes, .columnBytes], in: analysis, context: context)
            return (v[0], v[1])
        }
        let vgg = ConvConfig(cin: 64, cout: 64, size: 224, kernel: 3, stride: 1)
        let small = ConvConfig(cin: 8, cout: 8, size: 16, kernel: 3, stride: 1)
        let big = try values(vgg, l2: 1 << 20)
        XCTAssertEqual(big.column, Double(64 * 9 * 224 * 224 * 4))
        XCTAssertEqual(big.spilled, big.column)
        XCTAssertEqual(try values(small, l2: 1 << 20).spilled, 0)
        XCTAssertEqual(try values(small, l2: 0).spilled, Double(8 * 9 * 16 * 16 * 4))
        XCTAssertEqual(try values(vgg, l2: 4 << 20).spilled, 0)
    }

    /// serial_macs marks the products the runtime leaves on one thread: the
    /// digits model's 3×3 Conv (64 × 288 × 64 multiply-adds) at 2 threads, not a
    /// 56×56 Conv over 64 channels, and nothing on a one-thread device.
    func testSerialMacsFollowTheRuntimesSplit() throws {
        func serial(_ config: ConvConfig, threads: Int) throws -> (serial: Double, macs: Double) {
            let analysis = try Analysis(graph: config.build().graph)
            let values = featureValues(0, features: [.serialMacs, .macs], in: analysis,
                                       context: PredictionContext(cold: false, cacheBytes: 32 << 20, threads: threads))
            return (values[0], values[1])
        }
        let small = ConvConfig(cin: 32, cout: 64, size: 8, kernel: 3, stride: 1)
        let large = ConvConfig(cin: 64, cout: 64, size: 56, kernel: 3, stride: 1)
        let smallAtTwo = try serial(small, threads: 2)
        XCTAssertGreaterThan(smallAtTwo.macs, 0)
        XCTAssertEqual(smallAtTwo.serial, smallAtTwo.macs)
        XCTAssertEqual(try serial(large, threads: 2).serial, 0)
        XCTAssertEqual(try serial(small, threads: 1).serial, 0)
        XCTAssertTrue(productSplitsAcrossThreads(m: 64, n: 3136, k: 576, threads: 2))
        XCTAssertFalse(productSplitsAcrossThreads(m: 64, n: 64, k: 288, threads: 2))
    }

    /// The per-row features count the loops the runtime runs: input-row
    /// copies of a 2-D im2col, and rows × taps of a depthwise kernel applied tap by tap.
    func testRowFeaturesCountTheRuntimesLoops() throws {
        func values(_ config: ConvConfig, _ features: [Feature]) throws -> [Double] {
            let analysis = try Analysis(graph: config.build().graph)
            return featureValues(0, features: features, in: analysis, context: PredictionContext(cold: false, cacheBytes: 32 << 20))
        }
        // 3 channels × 3×3 taps × 32 output rows; stride 2 halves the rows, groups keep the total.
        XCTAssertEqual(try values(ConvConfig(cin: 3, cout: 4, size: 32, kernel: 3, stride: 1), [.columnSegments]), [3 * 9 * 32])
        XCTAssertEqual(try values(ConvConfig(cin: 8, cout: 8, size: 32, kernel: 3, stride: 2, group: 2), [.columnSegments]), [8 * 9 * 16])
        XCTAssertEqual(try values(ConvConfig(cin: 8, cout: 8, size: 32, kernel: 1, stride: 1), [.columnSegments]), [0])
        // Depthwise, 16 planes of 14 rows: 5×5 goes tap by tap, 3×3 in one pass.
        let generic = try values(ConvConfig(cin: 16, cout: 16, size: 14, kernel: 5, stride: 1, group: 16),
                                 [.rows, .genericTapRows, .genericMacs, .macs])
        XCTAssertEqual(generic[0], 16 * 14)
        XCTAssertEqual(generic[1], 16 * 14 * 25)
        XCTAssertEqual(generic[2], generic[3])
        XCTAssertEqual(try values(ConvConfig(cin: 16, cout: 16, size: 14, kernel: 3, stride: 1, group: 16), [.genericTapRows, .genericMacs]), [0, 0])
    }

    /// Nodes the runtime runs no kernel for — a Constant, a Relu fused into its Conv — are predicted at 0.
    func testKernellessNodesCostNothing() throws {
        let layer = ConvConfig(cin: 8, cout: 8, size: 16, kernel: 3, stride: 1).build().graph
        var nodes = layer.nodes
        let convOutput = nodes[0].outputs[0]
        nodes.append(Node(name: "relu", opType: "Relu", inputs: [convOutput], outputs: ["r"]))
        nodes.append(Node(name: "k", opType: "Constant", inputs: [], outputs: ["k"],
                          attributes: [Attribute(name: "value", value: .tensor(Tensor([1], floats: [2])))]))
        nodes.append(Node(name: "mul", opType: "Mul", inputs: ["r", "k"], outputs: ["z"]))
        let graph = Graph(model: layer.model, name: "g", inputs: layer.inputs, outputs: [ValueInfo(name: "z", dtype: nil, dims: nil)],
                          initializers: layer.initializers, nodes: nodes)
        let times = DeviceProfile.builtInEdge.predictMilliseconds(graph: graph, analysis: try Analysis(graph: graph))
        XCTAssertGreaterThan(times[0], 0)
        XCTAssertEqual(times[1], 0)
        XCTAssertEqual(times[2], 0)
        XCTAssertGreaterThan(times[3], 0)
    }

    /// At two threads, a node reading the output of a Conv split across the
    /// cores (through the Relu fused into it) reads half of it from the other
    /// core; after a Conv too small to split, or at one thread, nothing.
    func testSharedInputBytesFollowTheProducersSplit() throws {
        func shared(channels: Int, size: Int, threads: Int) throws -> (shared: Double, bytes: Double) {
            let net = NetworkBuilder(input: [1, channels, size, size])
            net.conv(out: channels, kernel: 3, stride: 1)
            net.relu()
            net.maxPool(kernel: 2, stride: 2)
            let analysis = try Analysis(graph: net.build(name: "g").graph)
            let context = PredictionContext(analysis: analysis, cacheBytes: 32 << 20, threads: threads)
            let values = featureValues(2, features: [.sharedInputBytes, .inputBytes], in: analysis, context: context)
            return (values[0], values[1])
        }
        let large = try shared(channels: 64, size: 56, threads: 2)
        XCTAssertEqual(large.bytes, Double(64 * 56 * 56 * 4))
        XCTAssertEqual(large.shared, large.bytes / 2)
        XCTAssertEqual(try shared(channels: 64, size: 56, threads: 1).shared, 0)
        XCTAssertEqual(try shared(channels: 8, size: 8, threads: 2).shared, 0)

        // Other producers by their loop's work: a BatchNormalization of 200704
        // elements splits, one of 512 does not, and a Concat copies inline.
        func afterLoop(channels: Int, size: Int, concat: Bool) throws -> Double {
            let net = NetworkBuilder(input: [1, channels, size, size])
            let input = net.current
            if concat { net.concat(input) } else { net.batchNorm() }
            net.maxPool(kernel: 2, stride: 2)
            let analysis = try Analysis(graph: net.build(name: "g").graph)
            let context = PredictionContext(analysis: analysis, cacheBytes: 32 << 20, threads: 2)
            return featureValues(1, features: [.sharedInputBytes], in: analysis, context: context)[0]
        }
        XCTAssertEqual(try afterLoop(channels: 64, size: 56, concat: false), Double(64 * 56 * 56 * 4) / 2)
        XCTAssertEqual(try afterLoop(channels: 8, size: 8, concat: false), 0)
        XCTAssertEqual(try afterLoop(channels: 64, size: 56, concat: true), 0)
    }

    /// serial_bytes are the bytes of a loop too small to split at several
    /// threads: a BatchNormalization over 8×8×8 at two threads, not one over
    /// 64×56×56 (which splits), nor anything at one thread.
    func testSerialBytesFollowTheRuntimesSplit() throws {
        func serial(channels: Int, size: Int, threads: Int) throws -> Double {
            let net = NetworkBuilder(input: [1, channels, size, size])
            net.batchNorm()
            let analysis = try Analysis(graph: net.build(name: "g").graph)
            let context = PredictionContext(cold: false, cacheBytes: 32 << 20, threads: threads)
            return featureValues(0, features: [.serialBytes], in: analysis, context: context)[0]
        }
        XCTAssertEqual(try serial(channels: 8, size: 8, threads: 2), Double(2 * 8 * 8 * 8 * 4))
        XCTAssertEqual(try serial(channels: 64, size: 56, threads: 2), 0)
        XCTAssertEqual(try serial(channels: 8, size: 8, threads: 1), 0)
        XCTAssertTrue(OpKind.normalization.features.contains(.serialBytes))
        XCTAssertFalse(OpKind.gemm.features.contains(.serialBytes))  // products have serial_macs
    }

    /// warm_split_ms is a node's own prediction when its work splits across
    /// the threads of a cached model: a 64-channel Conv at 56 pixels at two
    /// threads, not at one, not an 8-channel one at 8, not in a cold model.
    func testWarmSplitMillisecondsTakeTheSplitNodesPrediction() throws {
        func warmSplit(channels: Int, size: Int, threads: Int, cacheBytes: Int = 32 << 20) throws -> (split: Double, hot: Double) {
            let net = NetworkBuilder(input: [1, channels, size, size])
            net.conv(out: channels, kernel: 3, stride: 1)
            let analysis = try Analysis(graph: net.build(name: "g").graph)
            let context = PredictionContext(analysis: analysis, cacheBytes: cacheBytes, threads: threads)
            let features = DeviceProfile.ContextModel.features
            let values = DeviceProfile.ContextModel.none.values(0, hot: 0.25, in: analysis, context: context)
            return (values[features.firstIndex(of: .warmSplitMilliseconds) ?? 0], 0.25)
        }
        let split = try warmSplit(channels: 64, size: 56, threads: 2)
        XCTAssertEqual(split.split, split.hot)
        XCTAssertEqual(try warmSplit(channels: 64, size: 56, threads: 1).split, 0)
        XCTAssertEqual(try warmSplit(channels: 8, size: 8, threads: 2).split, 0)
        XCTAssertEqual(try warmSplit(channels: 64, size: 56, threads: 2, cacheBytes: 1 << 20).split, 0)
    }

    /// A model is cold by its weights plus the activations alive at once, not
    /// every activation it ever writes: the session frees each after its last reader.
    func testPeakLiveBytesFollowsLastReaders() throws {
        // x (16 floats) → a → b → c, and a skip from a to the Add at the end.
        let model = ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)])
        let graph = Graph(model: model, name: "g",
                          inputs: [ValueInfo(name: "x", dtype: .float, dims: [.fixed(1), .fixed(16)])],
                          outputs: [ValueInfo(name: "y", dtype: nil, dims: nil)], initializers: [],
                          nodes: [Node(name: "1", opType: "Relu", inputs: ["x"], outputs: ["a"]),
                                  Node(name: "2", opType: "Neg", inputs: ["a"], outputs: ["b"]),
                                  Node(name: "3", opType: "Abs", inputs: ["b"], outputs: ["c"]),
                                  Node(name: "4", opType: "Add", inputs: ["a", "c"], outputs: ["y"])])
        let analysis = try Analysis(graph: graph)
        // While node 3 runs: a (kept for the Add), b and c — 3 × 64 bytes; x is gone after node 1.
        XCTAssertEqual(PredictionContext.peakLiveBytes(analysis), 3 * 64)
        XCTAssertEqual(analysis.totals.bytesWritten, 4 * 64)
    }

    func testNonNegativeFitRecoversCoefficients() throws {
        var random = SplitMix64(seed: 1)
        let truth = [0.002, 3e-8, 0, 1e-9]
        var rows: [[Double]] = [], targets: [Double] = []
        for _ in 0..<40 {
            let row = [1, Double(random.next() % 10_000_000), Double(random.next() % 1_000_000), Double(random.next() % 100_000)]
            rows.append(row)
            targets.append(zip(row, truth).reduce(0) { $0 + $1.0 * $1.1 })
        }
        let fit = try XCTUnwrap(LinearFit.fit(rows: rows, targets: targets))
        for (a, b) in zip(fit.coefficients, truth) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(abs(b), 1e-9)) }
        XCTAssertGreaterThan(fit.r2, 0.999999)
        XCTAssertLessThan(fit.mape, 1e-6)
        // Data a negative slope would fit best: the constrained fit stays at zero instead.
        let falling = try XCTUnwrap(LinearFit.fit(rows: [[1, 1], [1, 2], [1, 3]], targets: [3, 2, 1]))
        XCTAssertTrue(falling.coefficients.allSatisfy { $0 >= 0 })
    }

    /// Ops of one kind share a linear model and differ by a factor: Div
    /// twice as slow as Add on the same bytes, Mul as fast, Max (one sample)
    /// three times. The fit finds the ratios and predicts every sample.
    func testOpFactorsSeparateOpsOfOneKind() throws {
        let overhead = 0.0003
        var samples: [Profiler.Sample] = []
        for (index, bytes) in [1_000.0, 10_000, 100_000, 1_000_000, 3_000_000].enumerated() {
            for (op, cost) in [("Add", 1.0), ("Mul", 1.0), ("Div", 2.0)] {
                let node = cost * (0.0005 + 2e-7 * bytes)
                samples.append(Profiler.Sample(kind: .binary, op: op, label: op, features: [1, bytes, bytes / 2, 1, 0],
                                               serial: false, milliseconds: overhead + node))
            }
            if index == 0 { samples.append(Profiler.Sample(kind: .binary, op: "Max", label: "Max", features: [1, bytes, bytes / 2, 1, 0],
                                                           serial: false, milliseconds: overhead + 3 * (0.0005 + 2e-7 * bytes))) }
        }
        let model = Profiler.fitKind(samples, features: OpKind.binary.features, overhead: overhead)
        let factors = model.opFactors
        XCTAssertEqual(try XCTUnwrap(factors["Max"]) / XCTUnwrap(factors["Add"]), 3, accuracy: 1e-4)
        XCTAssertEqual(try XCTUnwrap(factors["Div"]) / XCTUnwrap(factors["Add"]), 2, accuracy: 1e-4)
        XCTAssertEqual(try XCTUnwrap(factors["Mul"]), try XCTUnwrap(factors["Add"]), accuracy: 1e-9)
        for sample in samples {
            XCTAssertEqual(overhead + model.milliseconds(sample.features, op: sample.op, serial: false), sample.milliseconds,
                           accuracy: 1e-3 * sample.milliseconds, sample.op)
        }
        // The overhead is paid once per run, not per node.
        XCTAssertEqual(model.coefficients[0] * (factors["Add"] ?? 0), 0.0005, accuracy: 1e-7)
        XCTAssertNil(model.serialCoefficients, "no sample ran on one thread")
    }

    /// At two threads, loops too small to split run the one-thread code with
    /// its own fixed cost (here 2 µs against 1 µs) and rate: the serial regime
    /// is fitted on those samples alone, and each regime predicts its own.
    func testSerialSamplesGetTheirOwnCoefficients() throws {
        let overhead = 0.0003
        var samples: [Profiler.Sample] = []
        for bytes in stride(from: 1_000.0, through: 64_000, by: 9_000) {
            samples.append(Profiler.Sample(kind: .activation, op: "Relu", label: "serial", features: [1, bytes, bytes, 2 * bytes],
                                           serial: true, milliseconds: overhead + 0.002 + 1e-7 * 2 * bytes))
        }
        for bytes in [300_000.0, 600_000, 1_000_000, 3_000_000, 10_000_000, 30_000_000] {
            samples.append(Profiler.Sample(kind: .activation, op: "Relu", label: "split", features: [1, bytes, bytes, 0],
                                           serial: false, milliseconds: overhead + 0.001 + 0.5e-7 * 2 * bytes))
        }
        let model = Profiler.fitKind(samples, features: OpKind.activation.features, overhead: overhead)
        let serial = try XCTUnwrap(model.serialCoefficients)
        XCTAssertEqual(serial[0], 0.002, accuracy: 1e-6, "its own fixed cost, net of the run overhead")
        XCTAssertEqual(serial[3], 0, "serial_bytes is the serial regime's bytes again: left out")
        for sample in samples {
            XCTAssertEqual(overhead + model.milliseconds(sample.features, op: sample.op, serial: sample.serial), sample.milliseconds,
                           accuracy: 1e-3 * sample.milliseconds, sample.label)
        }
        XCTAssertLessThan(model.mape, 1e-3)

        // Round trip through JSON, and a bad serial_coefficients named.
        var profile = DeviceProfile.builtInCloud
        for kind in OpKind.allCases { profile.models[kind]?.serialCoefficients = nil }
        profile.models[.activation] = model
        let read = try DeviceProfile(json: profile.json)
        XCTAssertEqual(read.models[.activation]?.serialCoefficients?.count, serial.count)
        XCTAssertEqual(try XCTUnwrap(read.models[.activation]?.serialCoefficients?[0]), serial[0], accuracy: 1e-12)
        var text = profile.json.serialized()
        text = text.replacingOccurrences(of: "\"serial_coefficients\":[", with: "\"serial_coefficients\":[-1,")
        XCTAssertThrowsError(try DeviceProfile(json: JSON.parse(text))) { error in
            XCTAssertTrue("\(error)".contains("activation.serial_coefficients"), "\(error)")
        }
    }

    /// Pow is predicted like the loop the kernel runs for it; PRelu broadcasts
    /// like Mul, DequantizeLinear converts like QuantizeLinear.
    func testPowPReluAndDequantizeFollowTheirKernels() throws {
        func kind(_ op: String, _ second: (CaseBuilder) -> String, base: DType = .float) throws -> OpKind? {
            let b = CaseBuilder()
            let x = base == .float ? b.activation([1, 4, 8, 8]) : b.byteActivation([1, 4, 8, 8])
            let layer = b.build(.binary, Node(name: "n", opType: op, inputs: [x, second(b)], outputs: ["y"]))
            return OpKind.of(0, in: try Analysis(graph: layer.graph))
        }
        XCTAssertEqual(try kind("Pow") { $0.floats([2], shape: []) }, .activation)
        XCTAssertEqual(try kind("Pow") { $0.floats([0.5], shape: []) }, .activation)
        XCTAssertEqual(try kind("Pow") { $0.ints([3]) }, .activation)
        XCTAssertEqual(try kind("Pow") { $0.floats([1.5], shape: []) }, .transcendental)
        XCTAssertEqual(try kind("Pow") { $0.activation([1, 4, 8, 8]) }, .transcendental)
        XCTAssertEqual(try kind("PRelu") { $0.weight([4, 1, 1]) }, .binary)
        XCTAssertEqual(try kind("DequantizeLinear", { $0.floats([0.02], shape: []) }, base: .uint8), .quantize)
    }

    func testEverySweepCoversEveryKind() throws {
        for quick in [true, false] {
            let kinds = Sweep.specs(quick: quick).map(\.kind)
            for kind in OpKind.allCases {
                XCTAssertGreaterThanOrEqual(kinds.filter { $0 == kind }.count, 4, "\(kind.rawValue), quick: \(quick)")
            }
        }
    }

    func testMeasuringASampleGivesItsFeatures() throws {
        var timing = Profiler.Timing(quick: true, threads: 1)
        timing.warmUps = 1
        timing.minimumRuns = 2
        timing.minimumMilliseconds = 0
        let layer = ConvConfig(cin: 8, cout: 8, size: 8, kernel: 3, stride: 1).build()
        let sample = try Profiler.measure(layer, threads: 1, timing: timing, coldWeights: false,
                                          caches: MachineCaches(lastLevel: 32 << 20, l2: 1 << 20))
        XCTAssertEqual(sample.kind, .conv)
        XCTAssertEqual(sample.features.count, OpKind.conv.features.count)
        XCTAssertEqual(sample.features[1], Double(8 * 8 * 8 * 8 * 9))  // MACs
        XCTAssertGreaterThan(sample.milliseconds, 0)
    }
}
