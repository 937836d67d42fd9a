/// CleavePlan: device profiles (measured layer latencies and fitted
/// prediction models), per-node latency prediction, and the search for the
/// edge/cloud cut that minimises end-to-end latency over a link.
public enum CleavePlan {}
