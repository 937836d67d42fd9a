import CleaveIR

/// A slower link than the real one, emulated by sleeping: for each request,
/// `rtt / 2 + request bytes × 8 / bandwidth` before sending and
/// `rtt / 2 + response bytes × 8 / bandwidth` after receiving. Off unless
/// `--link-bandwidth` or `--link-rtt` is given; the real transfer time adds to it.
public struct LinkEmulation: Sendable, Equatable {
    /// Bits per second; nil for an unlimited link (only the RTT is added).
    public var bitsPerSecond: Double?
    public var rttSeconds: Double

    public init(bitsPerSecond: Double?, rttSeconds: Double) {
        self.bitsPerSecond = bitsPerSecond
        self.rttSeconds = rttSeconds
    }

    /// Seconds one direction of a request costs: half the RTT plus serialisation.
    public func oneWaySeconds(bytes: Int) -> Double {
        rttSeconds / 2 + (bitsPerSecond.map { Double(bytes) * 8 / $0 } ?? 0)
    }

    /// Parses `10Mbps`, `1.5Gbps`, `500kbps`, `800bps` (decimal units, bits).
    /// - Throws: `CleaveError.usage` naming the value.
    public static func parseBandwidth(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("gbps", 1e9), ("mbps", 1e6), ("kbps", 1e3), ("bps", 1)]
        let lower = text.lowercased()
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            if let value = Double(lower.dropLast(suffix.count)), value.isFinite, value > 0 { return value * scale }
        }
        throw CleaveError(.usage, "bandwidth '\(text)' must look like 10Mbps, 1.5Gbps, 500kbps or 800bps")
    }

    /// Parses `20ms`, `0.5s`, `150us` into seconds.
    /// - Throws: `CleaveError.usage` naming the value.
    public static func parseDuration(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("s", 1)]
        let lower = text.lowercased()
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            if let value = Double(lower.dropLast(suffix.count)), value.isFinite, value >= 0 { return value * scale }
        }
        throw CleaveError(.usage, "duration '\(text)' must look like 20ms, 0.5s or 150us")
    }
}
