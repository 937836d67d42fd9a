import CleaveIR

extension DeviceProfile {
    /// The edge device cleave assumes when no profile is given: the reference
    /// machine (README, "Built-in device profiles") at 1 thread with every
    /// prediction slowed down 8× — roughly a small ARM board.
    public static let builtInEdge = builtIn(builtInEdgeProfileJSON, role: "edge")

    /// The cloud server cleave assumes when no profile is given: the
    /// reference machine at 2 threads.
    public static let builtInCloud = builtIn(builtInCloudProfileJSON, role: "cloud")

    /// Parses an embedded profile. The text is part of the binary and a test
    /// parses both, so a failure here is a build defect, not bad input.
    private static func builtIn(_ text: String, role: String) -> DeviceProfile {
        do {
            return try DeviceProfile(json: try JSON.parse(text), source: "built-in \(role) profile")
        } catch {
            preconditionFailure("the built-in \(role) profile does not parse: \(error)")
        }
    }
}
