@testable import CleaveCompress
import CleaveIR
import XCTest

/// The fidelity compress and split report is measured on calibration samples
/// the fit did not use; it must not claim less loss than a disjoint evaluation
/// set (the digits test split, 450 images) shows, beyond sampling noise.
final class HeldOutFidelityTests: XCTestCase {
    func testHeldOutAgreementPredictsTheTestSplit() throws {
        let graph = try fixtureModel("digits")
        let array = try fixtureArray("digits", "calibration.npy")
        let (fit, heldOut) = try Calibration.fitAndHeldOutSets(["image": array], for: graph)
        XCTAssertEqual(fit.reduce(0) { $0 + ($1["image"]?.shape[0] ?? 0) }, 192)
        XCTAssertEqual(heldOut.reduce(0) { $0 + ($1["image"]?.shape[0] ?? 0) }, 64)
        let (reference, _) = try Digits.reference()

        for rung in [CompressionOptions(rankEnergy: 0.95), CompressionOptions(rankEnergy: 0.9),
                     CompressionOptions(rankRatio: 0.2), CompressionOptions(pruneRatio: 0.5)] {
            var options = rung
            options.calibration = fit
            options.heldOut = heldOut
            let (compressed, report) = try Compressor.compress(graph, options: options)
            XCTAssertEqual(report.model.evaluatedOn, "held_out")
            XCTAssertEqual(report.model.samples, 64)
            let claimed = 1 - (try XCTUnwrap(report.model.top1Agreement))
            let measured = 1 - agreement(try Digits.evaluate(compressed).logits, reference)
            // Two binomial proportions, 64 and 450 samples: three standard errors of their difference.
            let p = Swift.max(measured, 1.0 / 64)
            let noise = 3 * (p * (1 - p) / 64 + p * (1 - p) / 450).squareRoot()
            XCTAssertGreaterThanOrEqual(claimed, measured - noise,
                                        "\(rung): report claims \(claimed * 100)% lost, the test split shows \(measured * 100)%")
        }
    }

    func testTooFewSamplesToHoldOneBackIsBadInput() throws {
        let graph = try fixtureModel("digits")
        let one = try fixtureArray("digits", "calibration.npy").reshaped([256, 1, 8, 8])
        let single = Tensor(dtype: one.dtype, shape: [1, 1, 8, 8],
                            storage: TensorStorage(slicing: one.storage, range: 0..<(64 * 4)))
        XCTAssertThrowsError(try Calibration.fitAndHeldOutSets(["image": single], for: graph)) { error in
            XCTAssertEqual((error as? CleaveError)?.kind, .badInput)
            XCTAssertTrue("\(error)".contains("1 sample(s) are too few"), "\(error)")
        }
    }

    /// Fraction of rows whose argmax agrees.
    private func agreement(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.floats, y = b.floats, classes = a.shape.dims.last ?? 1
        let rows = x.count / classes
        var same = 0
        for r in 0..<rows {
            let xs = x[(r * classes)..<((r + 1) * classes)], ys = y[(r * classes)..<((r + 1) * classes)]
            if xs.indices.max(by: { xs[$0] < xs[$1] }) == ys.indices.max(by: { ys[$0] < ys[$1] }) { same += 1 }
        }
        return Double(same) / Double(max(rows, 1))
    }
}
