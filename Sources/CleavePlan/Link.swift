import CleaveIR

/// The network between the edge device and the cloud server, as the planner
/// models it: a fixed bandwidth and a round-trip time paid once per inference
/// that crosses it.
///
/// Transfer time of `b` boundary bytes = `8·b / bitsPerSecond` seconds, plus
/// `rttMilliseconds`. The request's round trip also carries the reply (the
/// model outputs, which are small next to activations), so the reply's bytes
/// are not counted separately.
public struct Link: Hashable, Sendable {
    /// Bandwidth from the edge to the cloud, in bits per second (> 0).
    public var bitsPerSecond: Double
    /// Round-trip time in milliseconds (≥ 0).
    public var rttMilliseconds: Double

    public init(bitsPerSecond: Double, rttMilliseconds: Double) {
        self.bitsPerSecond = bitsPerSecond
        self.rttMilliseconds = rttMilliseconds
    }

    /// The link cleave assumes when none is given: 10 Mbps, 20 ms round trip
    /// (a good Wi-Fi or 4G uplink).
    public static let `default` = Link(bitsPerSecond: 10e6, rttMilliseconds: 20)

    /// Milliseconds to send `bytes` over the link, excluding the round trip.
    public func serializationMilliseconds(bytes: Int) -> Double {
        Double(bytes) * 8 / bitsPerSecond * 1000
    }

    /// Parses a bandwidth and a round-trip time as written on the command line.
    ///
    /// - `bandwidth`: a positive number and a unit, `bps`, `kbps`, `Mbps` or
    ///   `Gbps` (decimal: 1 Mbps = 10⁶ bit/s; the unit's case is ignored),
    ///   e.g. `10Mbps`, `1.5Gbps`, `500kbps`.
    /// - `rtt`: a non-negative number and a unit, `us`, `ms` or `s`, e.g.
    ///   `20ms`, `0.5s`; a bare `0` is accepted.
    /// - Throws: `CleaveError` of kind `.usage` naming the text and the
    ///   accepted forms.
    public static func parse(bandwidth: String, rtt: String) throws -> Link {
        Link(bitsPerSecond: try parseBandwidth(bandwidth), rttMilliseconds: try parseDuration(rtt))
    }

    /// Bits per second of a bandwidth such as `10Mbps`.
    public static func parseBandwidth(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("gbps", 1e9), ("mbps", 1e6), ("kbps", 1e3), ("bps", 1)]
        let usage = "expected a positive number and a unit (bps, kbps, Mbps, Gbps), e.g. 10Mbps, 1.5Gbps, 500kbps"
        guard let (value, scale) = split(text, units: units) else {
            throw CleaveError(.usage, "bandwidth '\(text)': \(usage)")
        }
        let bits = value * scale
        guard bits > 0, bits.isFinite else { throw CleaveError(.usage, "bandwidth '\(text)': \(usage)") }
        return bits
    }

    /// Milliseconds of a duration such as `20ms` or `0.5s`.
    public static func parseDuration(_ text: String) throws -> Double {
        let usage = "expected a non-negative number and a unit (us, ms, s), e.g. 20ms, 0.5s"
        if let zero = Double(text.trimmed), zero == 0 { return 0 }
        guard let (value, scale) = split(text, units: [("ms", 1), ("us", 1e-3), ("s", 1e3)]) else {
            throw CleaveError(.usage, "round-trip time '\(text)': \(usage)")
        }
        let milliseconds = value * scale
        guard milliseconds >= 0, milliseconds.isFinite else {
            throw CleaveError(.usage, "round-trip time '\(text)': \(usage)")
        }
        return milliseconds
    }

    /// `text` as a number followed by one of `units` (matched case-insensitively,
    /// first match wins), or nil.
    private static func split(_ text: String, units: [(String, Double)]) -> (Double, Double)? {
        let lowered = text.trimmed.lowercased()
        for (unit, scale) in units where lowered.hasSuffix(unit) {
            let number = String(lowered.dropLast(unit.count)).trimmed
            // Double("nan") and Double("inf") parse; a bandwidth is never either.
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." || $0 == "e" || $0 == "-" || $0 == "+" }),
                  let value = Double(number) else { return nil }
            return (value, scale)
        }
        return nil
    }

    /// The link as JSON: `{"bits_per_second", "rtt_ms"}`.
    public var json: JSON {
        .object([("bits_per_second", .double(bitsPerSecond)), ("rtt_ms", .double(rttMilliseconds))])
    }

    /// `10 Mbps, RTT 20 ms`.
    public var description: String {
        "\(Link.describe(bitsPerSecond: bitsPerSecond)), RTT \(compact(rttMilliseconds)) ms"
    }

    /// `10 Mbps`, `1.5 Gbps`, `500 kbps`.
    public static func describe(bitsPerSecond: Double) -> String {
        let (value, unit): (Double, String) = bitsPerSecond >= 1e9 ? (bitsPerSecond / 1e9, "Gbps")
            : bitsPerSecond >= 1e6 ? (bitsPerSecond / 1e6, "Mbps")
            : bitsPerSecond >= 1e3 ? (bitsPerSecond / 1e3, "kbps") : (bitsPerSecond, "bps")
        return "\(compact(value)) \(unit)"
    }
}

extension String {
    var trimmed: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    var trimmingNewlines: String {
        String(drop { $0 == "\n" }.reversed().drop { $0 == "\n" }.reversed())
    }
}

/// A number with at most three decimals and no trailing zeros: 1.5, 10, 0.125.
func compact(_ value: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    let rounded = (value * 1000).rounded() / 1000
    if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int(rounded)) }
    return String(rounded)
}
