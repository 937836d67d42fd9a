import CleaveBundle
import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

/// Version-2 bundles: several cuts in one pair (schemas/BUNDLE.md §7).
final class MultiCutBundleTests: XCTestCase {
    typealias Fixture = BundleTests.Fixture

    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "cleave-multicut-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// pytorch_style cut four ways: cloud-only, after the stem's ReLU (default), inside the residual block, edge-only.
    func writePair(_ fixture: Fixture, to out: String) throws -> [BundleCut] {
        let graph = fixture.graph
        let cuts = [
            BundleCut(id: "c0", partition: try Partition(graph: graph, edge: [])),
            BundleCut(id: "c1", partition: try Partition(graph: graph, cutAt: ["/relu/Relu_output_0"])),
            BundleCut(id: "c2", partition: try Partition(graph: graph, cutAt: ["/layer1/layer1.0/conv1/Conv_output_0"])),
            BundleCut(id: "c3", partition: try Partition(graph: graph, edge: Set(graph.nodes.indices))),
        ]
        let request = try BundleRequest(graph: graph, types: fixture.analysis.types, cuts: cuts, defaultCut: "c1", sourcePath: fixture.path)
        try BundleWriter.write(request, to: out)
        return cuts
    }

    func testEveryCutComposesToTheWholeModel() throws {
        let fixture = try Fixture("pytorch_style")
        let out = directory + "/pt"
        _ = try writePair(fixture, to: out)
        let edgeReport = BundleVerifier.verify(out + "/edge"), cloudReport = BundleVerifier.verify(out + "/cloud")
        XCTAssertEqual(edgeReport.problems, [])
        XCTAssertEqual(cloudReport.problems, [])
        let edgeManifest = try XCTUnwrap(edgeReport.manifest), cloudManifest = try XCTUnwrap(cloudReport.manifest)
        XCTAssertEqual(BundleVerifier.checkPair(edgeManifest, cloudManifest), [])
        XCTAssertEqual(edgeManifest.version, 2)
        XCTAssertEqual(edgeManifest.defaultCut, "c1")
        XCTAssertEqual(edgeManifest.cuts.map(\.model), ["model.c0.onnx", "model.onnx", "model.c2.onnx", "model.c3.onnx"])
        XCTAssertEqual(cloudManifest.cuts.map(\.model), ["model.c0.onnx", "model.onnx", "model.c2.onnx", nil])
        // Inside the residual block both the branch and the skip connection cross.
        XCTAssertEqual(edgeManifest.cuts[2].boundary.map(\.tensor.name), ["/maxpool/MaxPool_output_0", "/layer1/layer1.0/conv1/Conv_output_0"])

        let whole = try Session(graph: fixture.graph, options: SessionOptions(threads: 1)).run(fixture.inputs)
        let edge = try LoadedBundle(path: out + "/edge"), cloud = try LoadedBundle(path: out + "/cloud")
        XCTAssertEqual(edge.cutID, "c1")
        for id in ["c0", "c1", "c2"] {
            let pair = try BundlePair(try edge.cut(id), try cloud.cut(id), options: SessionOptions(threads: 1))
            let outputs = try pair.run(fixture.inputs)
            for (name, expected) in whole {
                XCTAssertEqual(relativeL2(try XCTUnwrap(outputs[name], "\(id): \(name)"), expected), 0, accuracy: 1e-6, "cut \(id)")
            }
        }
        let alone = try edge.cut("c3").session(options: SessionOptions(threads: 1)).run(fixture.inputs)
        for (name, expected) in whole { XCTAssertEqual(relativeL2(try XCTUnwrap(alone[name]), expected), 0, accuracy: 1e-6) }
        XCTAssertThrowsError(try cloud.cut("c3")) { XCTAssertTrue("\($0)".contains("nothing to run"), "\($0)") }
        XCTAssertThrowsError(try cloud.cut("c9")) { XCTAssertTrue("\($0)".contains("c0, c1, c2, c3"), "\($0)") }
    }

    func testEachWeightIsStoredOncePerBundle() throws {
        let fixture = try Fixture("pytorch_style")
        let out = directory + "/pt"
        _ = try writePair(fixture, to: out)
        // The edge holds edge-only, so every weight of the model, once: no more than their bytes plus alignment.
        let external = fixture.graph.initializers.map(\.tensor.byteCount).filter { WeightLayout.isExternal(byteCount: $0) }
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: out + "/edge/weights.bin")[.size] as? Int)
        XCTAssertGreaterThanOrEqual(size, external.reduce(0, +))
        XCTAssertLessThan(size, external.reduce(0, +) + external.count * WeightLayout.pageAlignment)
        // The models of every cut point into the one weights.bin, each tensor at one place.
        var places: [String: Int] = [:]
        for file in ["model.onnx", "model.c0.onnx", "model.c2.onnx", "model.c3.onnx"] {
            for initializer in try ONNXImporter.load(path: "\(out)/edge/\(file)").initializers {
                guard let reference = initializer.externalData else { continue }
                XCTAssertEqual(reference.location, "weights.bin")
                XCTAssertEqual(places[initializer.name] ?? reference.offset, reference.offset, "\(file): \(initializer.name)")
                places[initializer.name] = reference.offset
            }
        }
        XCTAssertEqual(places.count, external.count)
    }

    func testASingleCutIsStillWrittenAsVersionOne() throws {
        let fixture = try Fixture("pytorch_style")
        let request = BundleRequest(graph: fixture.graph, types: fixture.analysis.types,
                                    partition: try Partition(graph: fixture.graph, cutAt: ["/relu/Relu_output_0"]), sourcePath: fixture.path)
        let (edge, _) = try BundleWriter.write(request, to: directory + "/v1")
        XCTAssertEqual(edge.version, 1)
        let text = try String(contentsOfFile: directory + "/v1/edge/manifest.json", encoding: .utf8)
        XCTAssertTrue(text.contains("\"version\": 1"))
        XCTAssertFalse(text.contains("\"cuts\""))
        XCTAssertTrue(BundleVerifier.verify(directory + "/v1/edge").isValid)
    }

    func testVerifyNamesTheCutThatDisagreesWithItsModel() throws {
        let fixture = try Fixture("pytorch_style")
        let out = directory + "/pt"
        _ = try writePair(fixture, to: out)
        // A manifest that says cut c2's cloud half takes a different shape, with a correct digest.
        var manifest = try XCTUnwrap(BundleVerifier.verify(out + "/cloud").manifest)
        manifest.cuts[2].inputs[0].shape = Shape([1, 64, 9, 9])
        try (manifest.json.serialized(pretty: true) + "\n").write(toFile: out + "/cloud/manifest.json", atomically: true, encoding: .utf8)
        let problems = BundleVerifier.verify(out + "/cloud").problems
        XCTAssertTrue(problems.contains { $0.contains("model.c2.onnx (cut c2)") && $0.contains("inputs") }, "\(problems)")

        // A version-2 manifest whose default cut does not repeat the top level.
        manifest.cuts[2].inputs[0].shape = Shape([1, 64, 8, 8])
        manifest.inputs = manifest.cuts[2].inputs
        try (manifest.json.serialized(pretty: true) + "\n").write(toFile: out + "/cloud/manifest.json", atomically: true, encoding: .utf8)
        XCTAssertTrue(BundleVerifier.verify(out + "/cloud").problems.contains { $0.contains("default cut c1") && $0.contains("§7") })
    }

    func testHalvesOfDifferentCutListsAreNotAPair() throws {
        let fixture = try Fixture("pytorch_style")
        _ = try writePair(fixture, to: directory + "/a")
        let graph = fixture.graph
        let other = try BundleRequest(graph: graph, types: fixture.analysis.types, cuts: [
            BundleCut(id: "c0", partition: try Partition(graph: graph, edge: [])),
            BundleCut(id: "c1", partition: try Partition(graph: graph, cutAt: ["/relu/Relu_output_0"])),
        ], defaultCut: "c1", sourcePath: fixture.path)
        try BundleWriter.write(other, to: directory + "/b")
        let edge = try XCTUnwrap(BundleVerifier.verify(directory + "/a/edge").manifest)
        let cloud = try XCTUnwrap(BundleVerifier.verify(directory + "/b/cloud").manifest)
        XCTAssertFalse(BundleVerifier.checkPair(edge, cloud).isEmpty)
        // And the writer refuses a default cut with nothing on the cloud.
        XCTAssertThrowsError(try BundleRequest(graph: graph, types: fixture.analysis.types, cuts: [
            BundleCut(id: "e", partition: try Partition(graph: graph, edge: Set(graph.nodes.indices))),
        ], defaultCut: "e", sourcePath: fixture.path))
    }
}
