import CleaveIR
import CleaveRuntime
import XCTest

/// Resize and Upsample. Expected values are ONNX Runtime 1.31's outputs for
/// the same node (tools/ort_cases.py checks many more combinations).
final class ResizeTests: XCTestCase {
    let row = Tensor([1, 1, 1, 8], floats: [1, 2, 3, 4, 5, 6, 7, 8])
    let square = floats([1, 1, 2, 2], [1, 2, 3, 4])
    let sixteen = Tensor([1, 1, 4, 4], floats: (1...16).map(Float.init))
    let noRoi = Tensor([0], floats: [])

    func scales(_ values: [Float]) -> Tensor { floats([values.count], values) }

    /// Resize-10 and Upsample: asymmetric coordinates; nearest floors when
    /// upsampling and takes the ceiling when downsampling.
    func testResize10AndUpsampleLegacyRules() throws {
        XCTAssertEqual(try runNode1("Resize", opset: 10, [row, scales([1, 1, 1, 0.6])]).floats, [1, 3, 5, 6])
        XCTAssertEqual(try runNode1("Resize", opset: 10, [row, scales([1, 1, 1, 0.75])]).floats, [1, 3, 4, 5, 7, 8])
        let up = [Float]([1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8])
        XCTAssertEqual(try runNode1("Resize", opset: 10, [row, scales([1, 1, 1, 1.5])]).floats, up)
        XCTAssertEqual(try runNode1("Upsample", opset: 9, [row, scales([1, 1, 1, 1.5])]).floats, up)
        XCTAssertEqual(try runNode1("Upsample", opset: 7, [row], [attribute("scales", [Float(1), 1, 1, 1.5])]).floats, up)
        assertClose(try runNode1("Resize", opset: 10, [row, scales([1, 1, 1, 0.6])], [attribute("mode", "linear")]),
                    floats([1, 1, 1, 4], [1, 2.6666665, 4.333333, 6]))
        let linear = try runNode1("Upsample", opset: 7, [row], [attribute("mode", "linear"), attribute("scales", [Float(1), 1, 1, 1.5])])
        assertClose(linear, floats([1, 1, 1, 12], [1, 1.6666667, 2.3333335, 3, 3.6666667, 4.333333, 5, 5.6666665,
                                                   6.333333, 7, 7.6666665, 8]))
        assertBadInput("must be at least 1") { _ = try runNode1("Upsample", opset: 9, [row, scales([1, 1, 1, 0.5])]) }
    }

    func testLinearCoordinateModes() throws {
        let halfPixel = try runNode1("Resize", opset: 11, [square, noRoi, scales([1, 1, 2, 2])], [attribute("mode", "linear")])
        XCTAssertEqual(halfPixel.shape, [1, 1, 4, 4])
        assertClose(halfPixel, floats([1, 1, 4, 4], [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]))
        let corners = try runNode1("Resize", opset: 11, [square, noRoi, scales([1, 1, 2, 2])],
                                   [attribute("mode", "linear"), attribute("coordinate_transformation_mode", "align_corners")])
        assertClose(corners, floats([1, 1, 4, 4], [1, 1.3333333, 1.6666667, 2, 1.6666666, 2, 2.3333335, 2.6666667,
                                                   2.3333333, 2.6666665, 3, 3.3333335, 3, 3.3333333, 3.6666665, 4]))
        let symmetric = try runNode1("Resize", opset: 19, [sixteen, nil, scales([1, 1, 1, 0.6])],
                                     [attribute("mode", "linear"), attribute("coordinate_transformation_mode", "half_pixel_symmetric")])
        assertClose(symmetric, floats([1, 1, 4, 2], [1.6666667, 3.3333333, 5.6666665, 7.333333, 9.666667, 11.333333, 13.666667, 15.333333]))
    }

    func testNearestModes() throws {
        let ceilAsymmetric = try runNode1("Resize", opset: 11, [sixteen, noRoi, scales([1, 1, 1, 1.5])],
                                          [attribute("coordinate_transformation_mode", "asymmetric"), attribute("nearest_mode", "ceil")])
        XCTAssertEqual(ceilAsymmetric.shape, [1, 1, 4, 6])
        XCTAssertEqual(Array(ceilAsymmetric.floats[0..<6]), [1, 2, 3, 3, 4, 4])
        let sizes = try runNode1("Resize", opset: 13, [sixteen, nil, nil, int64s([1, 1, 2, 3])])
        XCTAssertEqual(sizes.shape, [1, 1, 2, 3])
        XCTAssertEqual(sizes.floats, [1, 2, 4, 9, 10, 12])
        let bytes = Tensor(.uint8, [1, 1, 2, 2], [UInt8(10), 20, 30, 40])
        let upBytes = try runNode1("Resize", opset: 13, [bytes, nil, scales([1, 1, 1, 2])])
        XCTAssertEqual(upBytes.elements(as: UInt8.self), [10, 10, 20, 20, 30, 30, 40, 40])
    }

    func testCubicAndAntialias() throws {
        let cubic = try runNode1("Resize", opset: 11, [square, noRoi, scales([1, 1, 2, 2])], [attribute("mode", "cubic")])
        assertClose(cubic, floats([1, 1, 4, 4], [0.68359375, 1.015625, 1.5625, 1.89453125, 1.34765625, 1.6796875, 2.2265625, 2.55859375,
                                                 2.44140625, 2.7734375, 3.3203125, 3.65234375, 3.10546875, 3.4375, 3.984375, 4.31640625]))
        let down = try runNode1("Resize", opset: 13, [sixteen, nil, nil, int64s([1, 1, 3, 3])], [attribute("mode", "cubic")])
        assertClose(down, floats([1, 1, 3, 3], [1.6307871, 3.0046299, 4.3784733, 7.1261587, 8.5, 9.873844, 12.621532, 13.995373, 15.369216]))
        let big = Tensor([1, 1, 8, 8], floats: (1...64).map(Float.init))
        let smooth = try runNode1("Resize", opset: 18, [big, nil, nil, int64s([1, 1, 3, 3])], [attribute("mode", "linear"), attribute("antialias", 1)])
        assertClose(smooth, floats([1, 1, 3, 3], [9.790698, 12.313953, 14.837208, 29.976746, 32.500004, 35.023254, 50.162785, 52.686047, 55.209297]))
    }

    func testCropAxesAndAspectRatio() throws {
        let roi = floats([8], [0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7])
        let crop = try runNode1("Resize", opset: 11, [sixteen, roi, noRoi, int64s([1, 1, 3, 3])],
                                [attribute("mode", "linear"), attribute("coordinate_transformation_mode", "tf_crop_and_resize"),
                                 attribute("extrapolation_value", Float(10))])
        assertClose(crop, floats([1, 1, 3, 3], [7.6000009, 10, 10, 12.400001, 10, 10, 10, 10, 10]))
        let axes = try runNode1("Resize", opset: 18, [sixteen, nil, scales([2, 0.5])], [attribute("axes", [2, 3])])
        XCTAssertEqual(axes.shape, [1, 1, 8, 2])
        let notLarger = try runNode1("Resize", opset: 18, [sixteen, nil, nil, int64s([2, 6])],
                                     [attribute("axes", [2, 3]), attribute("keep_aspect_ratio_policy", "not_larger")])
        XCTAssertEqual(notLarger.shape, [1, 1, 2, 2])
        let notSmaller = try runNode1("Resize", opset: 18, [sixteen, nil, nil, int64s([2, 6])],
                                      [attribute("axes", [2, 3]), attribute("keep_aspect_ratio_policy", "not_smaller")])
        XCTAssertEqual(notSmaller.shape, [1, 1, 6, 6])
    }

    func testBadResizeArguments() {
        assertBadInput("needs scales or sizes") { _ = try runNode1("Resize", opset: 13, [self.sixteen, nil, nil, nil]) }
        assertBadInput("scales has 2 values, expected 4") { _ = try runNode1("Resize", opset: 13, [self.sixteen, nil, self.scales([2, 2])]) }
        assertBadInput("must be positive") { _ = try runNode1("Resize", opset: 13, [self.sixteen, nil, self.scales([1, 1, 0, 1])]) }
        assertBadInput("mode 'area'") { _ = try runNode1("Resize", opset: 13, [self.sixteen, nil, self.scales([1, 1, 2, 2])], [attribute("mode", "area")]) }
        assertBadInput("X (linear mode) must be float32") {
            _ = try runNode1("Resize", opset: 13, [Tensor([1, 2], int64s: [1, 2]), nil, self.scales([1, 2])], [attribute("mode", "linear")])
        }
    }
}
