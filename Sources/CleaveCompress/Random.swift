#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded generator (SplitMix64, Steele, Lea and Flood 2014) so that
/// randomized SVD and synthetic inputs give the same model and the same
/// report on every run.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    mutating func uniform() -> Double {
        Double((next() >> 11) + 1) * 0x1.0p-53
    }

    /// Fills `buffer` with standard normal values (Box–Muller, two per pair of uniforms).
    mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        var i = 0
        while i < buffer.count {
            let radius = (-2 * log(uniform())).squareRoot()
            let angle = 2 * Double.pi * uniform()
            buffer[i] = Float(radius * cos(angle))
            if i + 1 < buffer.count { buffer[i + 1] = Float(radius * sin(angle)) }
            i += 2
        }
    }
}
