/// Branch-free float32 exp and the activations built on it, written so the
/// compiler vectorises loops that call them (libm's expf is a scalar call).
///
/// Accuracy: `fastExp` is within 3 ulp of the exact result over its range
/// (checked against Glibc in ElementwiseTests); the activations inherit that,
/// well inside the 1e-3 relative tolerance cleave checks kernels against.
enum FastMath {
    /// e^x for float32. Inputs below -87.33 give the smallest normal float
    /// (not 0) and inputs above 88 give e^88, which keeps every step
    /// free of branches; callers (sigmoid, softmax) never depend on either tail.
    ///
    /// Method: Cody–Waite range reduction x = n·ln2 + r with |r| ≤ ln2/2,
    /// a degree-7 Taylor polynomial for e^r (truncation error < 1e-8), and
    /// 2^n built directly in the exponent bits. n comes from the
    /// round-to-nearest of adding 1.5·2^23, so no float-to-int conversion
    /// (which Swift range-checks) is needed.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.33654), 88)
        let shifter: Float = 12_582_912  // 1.5·2^23
        let shifted = clamped * 1.442_695_04 + shifter
        let n = shifted - shifter
        // ln2 split in a part exact in float32 and a small remainder.
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
        return p * Float(bitPattern: exponent)
    }

    /// 1 / (1 + e^-x).
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float {
        1 / (1 + exp(-x))
    }

    /// tanh(x) = 1 − 2 / (e^{2|x|} + 1) with the sign of x; an odd Taylor
    /// polynomial near 0, where that form loses relative precision; ±1 beyond
    /// |x| = 9, where float32 tanh is 1.
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let a = Swift.min(Swift.abs(x), 9)
        let large = 1 - 2 / (exp(2 * a) + 1)
        let a2 = a * a
        let small = a * (1 + a2 * (-1.0 / 3 + a2 * (2.0 / 15 + a2 * (-17.0 / 315))))
        let magnitude = a < 0.125 ? small : large
        return x < 0 ? -magnitude : magnitude
    }
}
