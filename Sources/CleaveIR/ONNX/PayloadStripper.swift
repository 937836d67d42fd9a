/// The pre-pass that keeps tensor payloads out of protobuf-c.
///
/// protobuf-c copies every bytes field it unpacks, which would put a model's
/// weights in memory twice (the mapping and the copy). This pass walks the
/// ModelProto wire format and writes a "skeleton" — the same message with
/// every initializer's and Constant tensor's `raw_data` replaced by the
/// private fields `cleave_payload_offset`/`cleave_payload_length` (see
/// schemas/onnx.proto) — which protobuf-c then unpacks cheaply. The payloads
/// stay spans of the mapped file.
///
/// Only the main graph's initializers and node attributes' tensors are
/// stripped; subgraphs, functions and training info are copied verbatim (their
/// nesting depth is still bounded, so hostile files cannot exhaust the stack
/// of protobuf-c's recursive parser).
struct PayloadStripper {
    static let maximumNesting = 64

    private enum Kind {
        case model, graph, node, attribute, tensor
        /// A message whose payloads stay inline; scanned only for depth.
        case verbatimGraph, verbatimNode, verbatimAttribute, verbatimOther
    }

    private static func child(of kind: Kind, field: UInt32) -> Kind? {
        switch (kind, field) {
        case (.model, 7): return .graph
        case (.model, 20), (.model, 25): return .verbatimOther
        case (.graph, 1): return .node
        case (.graph, 5): return .tensor
        case (.node, 5): return .attribute
        case (.attribute, 5): return .tensor
        case (.attribute, 6), (.attribute, 11): return .verbatimGraph
        case (.verbatimGraph, 1): return .verbatimNode
        case (.verbatimNode, 5): return .verbatimAttribute
        case (.verbatimAttribute, 6), (.verbatimAttribute, 11): return .verbatimGraph
        default: return nil
        }
    }

    /// The skeleton of the model in `bytes`.
    /// - Throws: `WireError` when the bytes are not a well-formed protobuf message.
    static func skeleton(of bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Swift.min(bytes.count, 1 << 20))
        try rewrite(bytes, range: 0..<bytes.count, kind: .model, depth: 0, into: &out)
        return out
    }

    private static func rewrite(_ bytes: UnsafeRawBufferPointer, range: Range<Int>, kind: Kind, depth: Int,
                                into out: inout [UInt8]) throws {
        guard depth < maximumNesting else { throw WireError.malformed("messages nested deeper than \(maximumNesting)") }
        var reader = WireReader(bytes, range: range)
        var payload: Range<Int>?
        while !reader.isAtEnd {
            let fieldStart = reader.offset
            let (field, wireType) = try reader.tag()
            let value = try reader.value(wireType: wireType)
            if kind == .tensor && (field == 1001 || field == 1002) {
                continue  // cleave's private fields never come from a file
            }
            if kind == .tensor && field == 9 && wireType == 2 {
                payload = value  // protobuf semantics: the last occurrence wins
                continue
            }
            if wireType == 2, let childKind = child(of: kind, field: field) {
                if childKind == .verbatimOther {
                    out.append(contentsOf: bytes[fieldStart..<reader.offset])
                    continue
                }
                var nested: [UInt8] = []
                try rewrite(bytes, range: value, kind: childKind, depth: depth + 1, into: &nested)
                out.appendTag(field: field, wireType: 2)
                out.appendVarint(UInt64(nested.count))
                out.append(contentsOf: nested)
            } else {
                out.append(contentsOf: bytes[fieldStart..<reader.offset])
            }
        }
        if let payload {
            out.appendTag(field: 1001, wireType: 0)
            out.appendVarint(UInt64(payload.lowerBound))
            out.appendTag(field: 1002, wireType: 0)
            out.appendVarint(UInt64(payload.count))
        }
    }
}
