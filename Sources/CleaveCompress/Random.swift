#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import CleaveIR

/// Seeded so that randomized SVD and synthetic inputs give the same model and
/// the same report on every run.
typealias SeededRandom = SplitMix64

extension SplitMix64 {
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
