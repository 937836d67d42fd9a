import CleaveIR
import Foundation

/// The subset of JSON Schema that tools/kserve/inferenceservice-v1beta1.schema.json
/// uses (type, properties, required, additionalProperties, enum, pattern,
/// maxLength, anyOf, items), so `swift test` checks export-kserve's manifest
/// against KServe's CRD schema without Python. Keywords outside the subset
/// (`x-kubernetes-*`, `$comment`) are ignored, as JSON Schema says.
/// - Returns: one message per violation, each with the JSON path; empty when valid.
func schemaViolations(_ value: JSON, _ schema: JSON, at path: String = "$") -> [String] {
    var problems: [String] = []
    if let type = schema["type"]?.stringValue, !matches(value, type: type) {
        return ["\(path): is not of type \(type)"]
    }
    if let options = schema["anyOf"]?.arrayValue, !options.contains(where: { schemaViolations(value, $0, at: path).isEmpty }) {
        problems.append("\(path): matches none of anyOf")
    }
    if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
        problems.append("\(path): \(value.serialized()) is not one of \(JSON.array(allowed).serialized())")
    }
    if case .string(let text) = value {
        if let limit = schema["maxLength"]?.intValue, text.count > limit { problems.append("\(path): longer than \(limit)") }
        if let pattern = schema["pattern"]?.stringValue {
            let regex = try? NSRegularExpression(pattern: pattern)
            if regex?.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                problems.append("\(path): '\(text)' does not match \(pattern)")
            }
        }
    }
    if case .object(let members) = value {
        let properties = schema["properties"]?.objectValue ?? []
        for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where !members.contains(where: { $0.0 == name }) {
            problems.append("\(path): '\(name)' is required")
        }
        for (name, member) in members {
            if let property = properties.first(where: { $0.0 == name })?.1 {
                problems += schemaViolations(member, property, at: path + "." + name)
            } else if let extra = schema["additionalProperties"] {
                if extra == .bool(false) {
                    problems.append("\(path): '\(name)' is not allowed")
                } else if extra.objectValue != nil {
                    problems += schemaViolations(member, extra, at: path + "." + name)
                }
            }
        }
    }
    if case .array(let items) = value, let itemSchema = schema["items"] {
        for (i, item) in items.enumerated() { problems += schemaViolations(item, itemSchema, at: "\(path)[\(i)]") }
    }
    return problems
}

private func matches(_ value: JSON, type: String) -> Bool {
    switch (type, value) {
    case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int), ("null", .null): return true
    case ("number", .int), ("number", .double): return true
    case ("integer", .double(let v)): return v.rounded() == v
    default: return false
    }
}
