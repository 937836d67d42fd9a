/// CleaveCompress: passes that make a model cheaper and create narrow
/// "bottleneck" layers as new cut points — BatchNormalization folding,
/// low-rank decomposition, channel pruning, quantised weights and boundaries —
/// each reporting the fidelity it costs.
public enum CleaveCompress {}
