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

/// A link that changes over time (`--link-schedule FILE`): phases of fixed
/// bandwidth and RTT, back to back from time 0; after the last phase ends its
/// link holds.
///
/// File format, one phase per line (`#` starts a comment, blank lines are skipped):
/// ```
/// # from  to   bandwidth  rtt
/// 0       20s  100Mbps    20ms
/// 20s     40s  5Mbps      40ms
/// ```
/// Times are seconds from the first request (a bare number, or with `s`/`ms`);
/// each phase must start where the previous one ended, the first at 0.
public struct LinkSchedule: Sendable, Equatable {
    public struct Phase: Sendable, Equatable {
        public var start: Double
        public var end: Double
        public var link: LinkEmulation
    }

    public private(set) var phases: [Phase]

    /// Seconds until the last phase ends.
    public var duration: Double { phases.last?.end ?? 0 }

    /// The link at `seconds` after the start.
    public func link(at seconds: Double) -> LinkEmulation {
        (phases.first { seconds < $0.end } ?? phases[phases.count - 1]).link
    }

    /// Parses a schedule file's text.
    /// - Throws: `CleaveError.badInput` naming the file, the line and what is wrong with it.
    public init(text: String, path: String) throws {
        var phases: [Phase] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard !fields.isEmpty else { continue }
            func fail(_ message: String) -> CleaveError { .badInput("\(path):\(number + 1): \(message)") }
            guard fields.count == 4 else { throw fail("expected FROM TO BANDWIDTH RTT, e.g. '0 20s 10Mbps 20ms'; got \(fields.count) fields") }
            func seconds(_ text: String) throws -> Double {
                let value: Double?
                if let bare = Double(text) { value = bare } else { value = try? LinkEmulation.parseDuration(text) }
                guard let value, value.isFinite else { throw fail("time '\(text)' must be seconds, e.g. 20 or 20s") }
                guard value >= 0 else { throw fail("time '\(text)' is negative") }
                return value
            }
            let (start, end) = (try seconds(fields[0]), try seconds(fields[1]))
            guard end > start else { throw fail("the phase ends (\(fields[1])) before it starts (\(fields[0])): times must increase") }
            let expected = phases.last?.end ?? 0
            guard abs(start - expected) < 1e-9 else {
                throw fail(start > expected ? "gap: this phase starts at \(fields[0]) but the previous one ends at \(expected) s"
                                            : "this phase starts at \(fields[0]), before the previous one ends (\(expected) s): times must increase")
            }
            let bandwidth: Double
            do { bandwidth = try LinkEmulation.parseBandwidth(fields[2]) } catch {
                throw fail("bandwidth '\(fields[2])' must be positive, like 10Mbps, 1.5Gbps, 500kbps")
            }
            let rtt: Double
            do { rtt = try LinkEmulation.parseDuration(fields[3]) } catch { throw fail("RTT '\(fields[3])' must look like 20ms, 0.5s or 150us") }
            phases.append(Phase(start: start, end: end, link: LinkEmulation(bitsPerSecond: bandwidth, rttSeconds: rtt)))
        }
        guard !phases.isEmpty else { throw CleaveError.badInput("\(path): no phases; expected lines like '0 20s 10Mbps 20ms'") }
        self.phases = phases
    }

    /// Reads and parses a schedule file.
    public init(path: String) throws {
        let bytes: [UInt8]
        do { bytes = try MappedFile.contents(of: path) } catch { throw CleaveError.io("\(path): cannot be read: \(error)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CleaveError.badInput("\(path): is not UTF-8 text") }
        try self.init(text: text, path: path)
    }
}
