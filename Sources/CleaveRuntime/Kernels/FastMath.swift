/// Branch-free float32 exp and the activations built on it, written so the
/// compiler vectorises loops that call them (libm's expf is a scalar call).
///
/// Accuracy: `fastExp` is within 3 ulp of the exact result over its range
/// (checked against Glibc in ElementwiseTests); the activations inherit that,
/// well inside the 1e-3 relative tolerance cleave checks kernels against.
enum FastMath {
    /// e^x for float32. Inputs below -87.33 give the smallest normal float
    /// (not 0) and inputs above 88 give e^88, which keeps every step free of
    /// branches; callers (sigmoid, softmax) never depend on either tail. NaN
    /// stays NaN.
    ///
    /// Method: Cody–Waite range reduction x = n·ln2 + r with |r| ≤ ln2/2, a
    /// degree-5 polynomial for e^r fitted (near-minimax, relative error
    /// 1.4e-7 before rounding) by weighted least squares on Chebyshev nodes,
    /// and 2^n built directly in the exponent bits. n comes from the
    /// round-to-nearest of adding 1.5·2^23, so no float-to-int conversion
    /// (which Swift range-checks) is needed. The clamps are written as plain
    /// comparisons so they compile to single min/max instructions.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        var clamped = x < -87.33654 ? -87.33654 : x
        clamped = clamped > 88 ? 88 : clamped
        let shifter: Float = 12_582_912  // 1.5·2^23
        let shifted = clamped * 1.442_695_04 + shifter
        let n = shifted - shifter
        // ln2 split in a part exact in float32 and a small remainder.
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p: Float = 0.008_297_655
        p = p * r + 0.041_915_383
        p = p * r + 0.166_675_75
        p = p * r + 0.499_988_94
        p = p * r + 0.999_999_7
        p = p * r + 1.000_000_1
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
        let absolute = Swift.abs(x)
        let a = absolute > 9 ? 9 : absolute
        let large = 1 - 2 / (exp(2 * a) + 1)
        let a2 = a * a
        let small = a * (1 + a2 * (-1.0 / 3 + a2 * (2.0 / 15 + a2 * (-17.0 / 315))))
        let magnitude = a < 0.125 ? small : large
        return x < 0 ? -magnitude : magnitude
    }

    /// The largest of `n` contiguous floats (−inf for none), eight lanes at a time.
    @inline(__always)
    static func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var j = 0
        while j + 8 <= n {
            let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            lanes.replace(with: v, where: v .> lanes)
            j += 8
        }
        var result = lanes.max()
        while j < n {
            if x[j] > result { result = x[j] }
            j += 1
        }
        return result
    }

    /// The sum of `n` contiguous floats, eight lanes at a time in blocks of
    /// 4096, so rounding error grows with the block, not with `n`.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var total: Float = 0
        var start = 0
        while start < n {
            let end = Swift.min(start + 4096, n)
            var lanes = SIMD8<Float>(repeating: 0)
            var j = start
            while j + 8 <= end {
                lanes += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
                j += 8
            }
            var block = lanes.sum()
            while j < end {
                block += x[j]
                j += 1
            }
            total += block
            start = end
        }
        return total
    }

    /// erf(x): an odd Taylor polynomial below |x| = 0.5 (truncation error
    /// < 3e-8 relative), else Abramowitz & Stegun 7.1.26,
    /// 1 − t·P(t)·e^{−x²} with t = 1/(1 + 0.3275911|x|) (absolute error
    /// ≤ 1.5e-7; with float rounding, relative error < 5e-7 overall). Both are computed and
    /// one selected, so loops stay branch-free.
    @inline(__always)
    static func erf(_ x: Float) -> Float {
        let a = Swift.abs(x)
        let x2 = x * x
        var series: Float = -0.000_854_832_7
        series = series * x2 + 0.005_223_977_6
        series = series * x2 - 0.026_866_170_6
        series = series * x2 + 0.112_837_916_7
        series = series * x2 - 0.376_126_389_0
        series = series * x2 + 1.128_379_167_1
        let small = x * series
        let t = 1 / (1 + 0.327_591_1 * a)
        var p: Float = 1.061_405_429
        p = p * t - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let large = 1 - t * p * exp(-x2)
        let signed = x < 0 ? -large : large
        return a < 0.5 ? small : signed
    }
}
