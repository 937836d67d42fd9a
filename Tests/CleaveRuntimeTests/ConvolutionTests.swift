import CleaveIR
import CleaveRuntime
import XCTest

/// Conv and ConvTranspose against the naive reference over random shapes and
/// attributes. Tolerance rtol 1e-3 / atol 1e-4: sums of at most a few hundred
/// products of values in [-1, 1), where float32 reassociation (BLAS blocking,
/// the depthwise row order) moves results by ~1e-6.
final class ConvolutionTests: XCTestCase {
    private struct Case: CustomStringConvertible {
        var batch = 1, channels = 1, outputs = 1, group = 1
        var input: [Int] = [], kernel: [Int] = []
        var strides: [Int] = [], dilations: [Int] = [], padsBegin: [Int] = [], padsEnd: [Int] = []
        var bias = true

        var description: String {
            "N\(batch) C\(channels) M\(outputs) g\(group) in\(input) k\(kernel) s\(strides) d\(dilations) p\(padsBegin)\(padsEnd) bias \(bias)"
        }

        var attributes: [String: AttributeValue] {
            ["group": .int(group), "strides": .ints(strides), "dilations": .ints(dilations),
             "pads": .ints(padsBegin + padsEnd), "kernel_shape": .ints(kernel)]
        }
    }

    private func randomCase(_ random: inout SeededRandom, rank: Int) -> Case {
        var c = Case()
        c.batch = random.int(1...2)
        switch random.int(0...3) {
        case 0:  // depthwise, possibly with a channel multiplier
            c.group = random.int(2...4)
            c.channels = c.group
            c.outputs = c.group * random.int(1...2)
        case 1:  // grouped
            c.group = random.int(2...3)
            c.channels = c.group * random.int(1...3)
            c.outputs = c.group * random.int(1...3)
        default:
            c.channels = random.int(1...5)
            c.outputs = random.int(1...6)
        }
        let pointwise = random.int(0...4) == 0
        for _ in 0..<rank {
            let kernel = pointwise ? 1 : random.int(1...3), dilation = random.int(1...2)
            let padBegin = pointwise ? 0 : random.int(0...2), padEnd = pointwise ? 0 : random.int(0...2)
            c.kernel.append(kernel)
            c.strides.append(pointwise ? 1 : random.int(1...3))
            c.dilations.append(dilation)
            c.padsBegin.append(padBegin)
            c.padsEnd.append(padEnd)
            let extent = (kernel - 1) * dilation + 1
            c.input.append(random.int(Swift.max(1, extent - padBegin - padEnd)...(rank == 3 ? 6 : 11)))
        }
        c.bias = random.bool()
        return c
    }

    private func check(_ c: Case, _ random: inout SeededRandom, threads: Int, constantWeights: Bool) throws {
        let x = random.tensor([c.batch, c.channels] + c.input)
        let w = random.tensor([c.outputs, c.channels / c.group] + c.kernel)
        let b = c.bias ? random.tensor([c.outputs]) : nil
        let expected = Naive.conv(x, w, b, group: c.group, strides: c.strides, dilations: c.dilations,
                                  padsBegin: c.padsBegin, padsEnd: c.padsEnd)
        let y = try runNode("Conv", inputs: [("X", x), ("W", w), ("B", b)],
                            constants: constantWeights ? ["W", "B"] : [], attributes: c.attributes, threads: threads)
        assertClose(y[0], expected, "Conv \(c) threads \(threads)")
    }

    func testRandomConv1D2D() throws {
        var random = SeededRandom(1)
        for trial in 0..<60 {
            let c = randomCase(&random, rank: trial % 3 == 0 ? 1 : 2)
            try check(c, &random, threads: 1 + trial % 2, constantWeights: trial % 4 < 2)
        }
    }

    func testRandomConv3D() throws {
        var random = SeededRandom(2)
        for trial in 0..<12 {
            try check(randomCase(&random, rank: 3), &random, threads: 1 + trial % 2, constantWeights: false)
        }
    }

    /// An output larger than one im2col band (2 MiB of columns): 24 channels ×
    /// 3×3 taps × 40×260 positions is about five bands.
    func testConvInSeveralBands() throws {
        var random = SeededRandom(3)
        let x = random.tensor([1, 24, 40, 260])
        let w = random.tensor([2, 24, 3, 3])
        let y = try runNode("Conv", inputs: [("X", x), ("W", w)], constants: ["W"],
                            attributes: ["pads": .ints([1, 1, 1, 1])], threads: 2)
        assertClose(y[0], Naive.conv2D(x, w, strides: [1, 1], pads: [1, 1, 1, 1]), "banded")
    }

    /// Convs with work for two threads give each thread whole tiles of output
    /// rows (or positions, beyond 2-D): an even and an odd number of rows, planes
    /// from batch and an odd group count, and three spatial dims.
    func testConvTilesSplitAcrossThreads() throws {
        var random = SeededRandom(5)
        let cases: [(x: [Int], w: [Int], group: Int, pad: Int)] = [
            ([1, 96, 8, 8], [48, 96, 3, 3], 1, 1),
            ([1, 32, 7, 7], [64, 32, 5, 5], 1, 2),
            ([2, 48, 10, 10], [96, 16, 3, 3], 3, 1),
            ([1, 8, 6, 10, 10], [20, 8, 3, 3, 3], 1, 1),
        ]
        for c in cases {
            let x = random.tensor(c.x), w = random.tensor(c.w), b = random.tensor([c.w[0]])
            let rank = c.x.count - 2
            let output = zip(c.x.dropFirst(2), c.w.dropFirst(2)).map { $0 + 2 * c.pad - $1 + 1 }
            let tiling = Im2colTiling(positions: output.reduce(1, *), rowLength: rank == 2 ? output[1] : 1,
                                      columnRows: c.w.dropFirst().reduce(1, *), groupOutputChannels: c.w[0] / c.group,
                                      planes: c.x[0] * c.group, threads: 2)
            XCTAssertTrue(tiling.splits, "\(c)")
            let attributes: [String: AttributeValue] = ["pads": .ints(Array(repeating: c.pad, count: 2 * rank)), "group": .int(c.group)]
            let inputs = [("X", x), ("W", w), ("B", b)]
            let tiled = try runNode("Conv", inputs: inputs, constants: ["W", "B"], attributes: attributes, threads: 2)[0]
            // One thread takes the untiled path, which the random cases check against the naive Conv.
            let whole = try runNode("Conv", inputs: inputs, constants: ["W", "B"], attributes: attributes, threads: 1)[0]
            assertClose(tiled, whole, "tiled \(c)")
            if c.x.count == 5 {
                let ones = Array(repeating: 1, count: rank), pads = Array(repeating: c.pad, count: rank)
                assertClose(tiled, Naive.conv(x, w, b, group: c.group, strides: ones, dilations: ones, padsBegin: pads, padsEnd: pads),
                            "tiled 3-D")
            }
        }
    }

    func testAutoPad() throws {
        var random = SeededRandom(4)
        let x = random.tensor([1, 2, 7, 8])
        let w = random.tensor([3, 2, 3, 2])
        // SAME: output = ceil(in / stride); total pad = (out − 1)·stride + extent − in, the odd one at the end (UPPER) or start (LOWER).
        // H: in 7, stride 2, extent 5 (k 3, d 2) → out 4, total 4. W: in 8, stride 3, extent 2 → out 3, total 0.
        for (mode, begin, end) in [("SAME_UPPER", [2, 0], [2, 0]), ("SAME_LOWER", [2, 0], [2, 0])] {
            let y = try runNode("Conv", inputs: [("X", x), ("W", w)],
                                attributes: ["auto_pad": .text(mode), "strides": .ints([2, 3]), "dilations": .ints([2, 1])])
            assertClose(y[0], Naive.conv(x, w, nil, group: 1, strides: [2, 3], dilations: [2, 1],
                                         padsBegin: begin, padsEnd: end), mode)
        }
        // Odd total: H in 7, stride 1, k 2 → total 1.
        let w2 = random.tensor([3, 2, 2, 2])
        for (mode, begin, end) in [("SAME_UPPER", [0, 0], [1, 1]), ("SAME_LOWER", [1, 1], [0, 0])] {
            let y = try runNode("Conv", inputs: [("X", x), ("W", w2)], attributes: ["auto_pad": .text(mode)])
            assertClose(y[0], Naive.conv(x, w2, nil, group: 1, strides: [1, 1], dilations: [1, 1],
                                         padsBegin: begin, padsEnd: end), mode)
        }
        let valid = try runNode("Conv", inputs: [("X", x), ("W", w2)],
                                attributes: ["auto_pad": .text("VALID"), "pads": .ints([5, 5, 5, 5])])
        assertClose(valid[0], Naive.conv(x, w2, nil, group: 1, strides: [1, 1], dilations: [1, 1],
                                         padsBegin: [0, 0], padsEnd: [0, 0]), "VALID")
    }

    /// The same kernel instance run on two input sizes re-plans rather than reusing stale scratch.
    func testShapeChangeBetweenRuns() throws {
        var random = SeededRandom(5)
        let w = random.tensor([4, 3, 3, 3])
        let node = Node(name: "c", opType: "Conv", inputs: ["X", "W"], outputs: ["Y"],
                        attributes: [Attribute(name: "pads", value: .ints([1, 1, 1, 1]))])
        let graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)]), name: "g",
                          inputs: [ValueInfo(name: "X", dtype: .float, dims: [.unknown, .fixed(3), .unknown, .unknown])],
                          outputs: [ValueInfo(name: "Y", dtype: nil, dims: nil)],
                          initializers: [Initializer(name: "W", tensor: w)], nodes: [node])
        let session = try Session(graph: graph, options: SessionOptions(threads: 1))
        for dims in [[1, 3, 9, 9], [2, 3, 20, 17], [1, 3, 9, 9]] {
            let x = random.tensor(dims)
            guard let y = try session.run(["X": x])["Y"] else { return XCTFail("no output") }
            assertClose(y, Naive.conv(x, w, nil, group: 1, strides: [1, 1], dilations: [1, 1],
                                      padsBegin: [1, 1], padsEnd: [1, 1]), "\(dims)")
        }
    }

    /// A Relu that only reads a Conv runs inside it, for every Conv method; a
    /// Conv output that anything else reads keeps its own Relu.
    func testReluFusedIntoConv() throws {
        var random = SeededRandom(11)
        let x = random.tensor([1, 4, 9, 9])
        // (weight shape, group, pads): pointwise, depthwise, im2col.
        for (dims, group, pads) in [([6, 4, 1, 1], 1, 0), ([4, 1, 3, 3], 4, 1), ([5, 4, 3, 3], 1, 1)] {
            let w = random.tensor(dims), b = random.tensor([dims[0]])
            let attributes = [Attribute(name: "group", value: .int(group)), Attribute(name: "pads", value: .ints([pads, pads, pads, pads]))]
            let model = ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)])
            func graph(outputs: [String]) -> Graph {
                Graph(model: model, name: "g",
                      inputs: [ValueInfo(name: "X", dtype: .float, dims: x.shape.dims.map { .fixed($0) })],
                      outputs: outputs.map { ValueInfo(name: $0, dtype: nil, dims: nil) },
                      initializers: [Initializer(name: "W", tensor: w), Initializer(name: "B", tensor: b)],
                      nodes: [Node(name: "c", opType: "Conv", inputs: ["X", "W", "B"], outputs: ["Y"], attributes: attributes),
                              Node(name: "r", opType: "Relu", inputs: ["Y"], outputs: ["Z"])])
            }
            let conv = Naive.conv(x, w, b, group: group, strides: [1, 1], dilations: [1, 1],
                                  padsBegin: [pads, pads], padsEnd: [pads, pads])
            let expected = Tensor(conv.shape, floats: conv.floats.map { max($0, 0) })

            let fused = graph(outputs: ["Z"])
            XCTAssertEqual(Fusion.convRelus(in: fused), [0: 1])
            let z = try Session(graph: fused, options: SessionOptions(threads: 1)).run(["X": x])
            assertClose(try XCTUnwrap(z["Z"]), expected, "fused \(dims)")
            XCTAssertTrue(conv.floats.contains { $0 < 0 }, "the case must clamp something")

            let both = graph(outputs: ["Y", "Z"])
            XCTAssertEqual(Fusion.convRelus(in: both), [:])
            let yz = try Session(graph: both, options: SessionOptions(threads: 2)).run(["X": x])
            assertClose(try XCTUnwrap(yz["Y"]), conv, "unfused Y \(dims)")
            assertClose(try XCTUnwrap(yz["Z"]), expected, "unfused Z \(dims)")
        }
    }

    func testConvRefusesMismatchedShapes() {
        var random = SeededRandom(6)
        let x = random.tensor([1, 4, 5, 5])
        assertRefused("group") {
            _ = try runNode("Conv", inputs: [("X", x), ("W", random.tensor([2, 3, 3, 3]))])
        }
        assertRefused("bias") {
            _ = try runNode("Conv", inputs: [("X", x), ("W", random.tensor([2, 4, 3, 3])), ("B", random.tensor([3]))])
        }
        assertRefused("does not fit") {
            _ = try runNode("Conv", inputs: [("X", x), ("W", random.tensor([2, 4, 7, 7]))])
        }
        assertRefused("float32") {
            _ = try runNode("Conv", inputs: [("X", Tensor(.int64, [1, 1, 1], [Int64(1)])), ("W", random.tensor([1, 1, 1]))])
        }
    }

    // MARK: ConvTranspose

    func testRandomConvTranspose() throws {
        var random = SeededRandom(7)
        for trial in 0..<40 {
            let rank = trial % 5 == 4 ? 3 : (trial % 3 == 0 ? 1 : 2)
            let group = random.int(0...2) == 0 ? random.int(2...3) : 1
            let channels = group * random.int(1...3), perGroup = random.int(1...3)
            // Every third trial asks for an output_shape instead of pads: ONNX Runtime then pads
            // total = full − requested (none if negative; the extra outputs are bias only), the odd one first.
            let bySize = trial % 3 == 1
            var input: [Int] = [], kernel: [Int] = [], strides: [Int] = [], dilations: [Int] = []
            var padsBegin: [Int] = [], padsEnd: [Int] = [], outputPadding: [Int] = [], outSpatial: [Int] = []
            for _ in 0..<rank {
                let size = random.int(1...(rank == 3 ? 4 : 7)), taps = random.int(1...3)
                let stride = random.int(1...3), dilation = random.int(1...2)
                let padding = bySize ? 0 : random.int(0...(stride - 1))
                input.append(size)
                kernel.append(taps)
                strides.append(stride)
                dilations.append(dilation)
                outputPadding.append(padding)
                let full = stride * (size - 1) + padding + (taps - 1) * dilation + 1
                if bySize {
                    let requested = random.int(Swift.max(1, full - 3)...(full + 2))
                    let total = Swift.max(0, full - requested)
                    padsBegin.append(total - total / 2)
                    padsEnd.append(total / 2)
                    outSpatial.append(requested)
                } else {
                    let begin = random.int(0...Swift.min(2, (full - 1) / 2)), end = random.int(0...Swift.min(2, (full - 1) / 2))
                    padsBegin.append(begin)
                    padsEnd.append(end)
                    outSpatial.append(full - begin - end)
                }
            }
            let batch = random.int(1...2)
            let x = random.tensor([batch, channels] + input)
            let w = random.tensor([channels, perGroup] + kernel)
            let b = random.bool() ? random.tensor([perGroup * group]) : nil
            let expected = Naive.convTranspose(x, w, b, group: group, strides: strides, dilations: dilations,
                                               padsBegin: padsBegin, outSpatial: outSpatial)
            var attributes: [String: AttributeValue] = [
                "group": .int(group), "strides": .ints(strides), "dilations": .ints(dilations),
            ]
            if bySize {
                attributes["output_shape"] = .ints(outSpatial)
            } else {
                attributes["pads"] = .ints(padsBegin + padsEnd)
                attributes["output_padding"] = .ints(outputPadding)
            }
            let y = try runNode("ConvTranspose", inputs: [("X", x), ("W", w), ("B", b)],
                                constants: trial % 2 == 0 ? ["W", "B"] : [], attributes: attributes, threads: 1 + trial % 2)
            assertClose(y[0], expected, "ConvTranspose trial \(trial) x\(x.shape) w\(w.shape) s\(strides) d\(dilations) p\(padsBegin)\(padsEnd) op\(outputPadding) out\(outSpatial)")
        }
    }
}
