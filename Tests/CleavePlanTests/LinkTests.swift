import CleaveIR
import XCTest

@testable import CleavePlan

final class LinkTests: XCTestCase {
    func testBandwidthsAndDurationsParse() throws {
        XCTAssertEqual(try Link.parseBandwidth("10Mbps"), 10e6)
        XCTAssertEqual(try Link.parseBandwidth("1.5Gbps"), 1.5e9)
        XCTAssertEqual(try Link.parseBandwidth("500kbps"), 500e3)
        XCTAssertEqual(try Link.parseBandwidth("64bps"), 64)
        XCTAssertEqual(try Link.parseBandwidth("100 mbps"), 100e6)
        XCTAssertEqual(try Link.parseDuration("20ms"), 20)
        XCTAssertEqual(try Link.parseDuration("0.5s"), 500)
        XCTAssertEqual(try Link.parseDuration("250us"), 0.25)
        XCTAssertEqual(try Link.parseDuration("0"), 0)
        let link = try Link.parse(bandwidth: "10Mbps", rtt: "20ms")
        XCTAssertEqual(link, Link(bitsPerSecond: 10e6, rttMilliseconds: 20))
        XCTAssertEqual(link.description, "10 Mbps, RTT 20 ms")
        // 1.25 MB at 10 Mbps is one second.
        XCTAssertEqual(link.serializationMilliseconds(bytes: 1_250_000), 1000, accuracy: 1e-9)
    }

    func testMalformedLinksAreUsageErrorsThatShowTheForm() {
        for text in ["10", "Mbps", "ten Mbps", "-5Mbps", "0Mbps", "10MBps/s", "nanMbps", "infMbps", "10 Mb"] {
            assertThrowsCleaveError(.usage, containing: "e.g. 10Mbps") { try Link.parseBandwidth(text) }
        }
        for text in ["20", "fast", "-1ms", "20 min", "nans"] {
            assertThrowsCleaveError(.usage, containing: "e.g. 20ms") { try Link.parseDuration(text) }
        }
    }
}
