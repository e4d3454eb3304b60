import Foundation

/// The part of JSON Schema that Caravan checks answers against (`format:` on a variant or a
/// prompt line). An engine's constrained decoding is not trusted: every answer is parsed and
/// checked here, so a run's `schema_valid` means the same on every engine.
///
/// A schema may use only the keywords below; any other is refused at submit (Caravan could not
/// check it, and an engine might ignore it silently).
public enum JSONSchema {
  /// Keywords Caravan checks, and the annotations it accepts and ignores.
  public static let keywords = [
    "type", "properties", "required", "additionalProperties", "enum", "const", "items", "minItems", "maxItems",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
  ]
  public static let annotations = ["title", "description", "$schema", "default", "examples"]
  static let types = ["object", "array", "string", "number", "integer", "boolean", "null"]

  /// What is wrong with a schema, each with the path of the keyword (`properties.label.type`).
  public static func problems(_ schema: JSONValue, at path: String = "") -> [(path: String, message: String)] {
    func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    guard case .object(let object) = schema else {
      return [(path, "a schema is a mapping of JSON Schema keywords (type: object, properties: ...), not \(schema.kindName)")]
    }
    var found: [(String, String)] = []
    for key in object.keys.sorted() where !keywords.contains(key) && !annotations.contains(key) {
      var message = "'\(key)' is not a keyword Caravan can check"
      if let guess = closestMatch(to: key, among: keywords) { message += "; did you mean '\(guess)'?" }
      found.append((at(key), message + " (keywords: \(keywords.joined(separator: ", ")))"))
    }
    if let type = object["type"] {
      let names: [JSONValue] = if case .array(let list) = type { list } else { [type] }
      if names.isEmpty { found.append((at("type"), "give at least one type")) }
      for name in names where !(name.stringValue.map(types.contains) ?? false) {
        found.append((at("type"), "'\(name.compactDescription)' is not a JSON Schema type (one of: \(types.joined(separator: ", ")))"))
      }
    }
    if let properties = object["properties"] {
      if case .object(let map) = properties {
        for (name, sub) in map.sorted(by: { $0.key < $1.key }) { found += problems(sub, at: at("properties.\(name)")) }
      } else {
        found.append((at("properties"), "expected a mapping of property names to schemas"))
      }
    }
    if let required = object["required"] {
      let names = required.arrayValue?.compactMap(\.stringValue)
      if names == nil || names?.count != required.arrayValue?.count {
        found.append((at("required"), "expected a list of property names"))
      } else if case .object(let map)? = object["properties"] {
        for name in names ?? [] where map[name] == nil {
          found.append((at("required"), "'\(name)' is required but not among the properties"))
        }
      }
    }
    if let additional = object["additionalProperties"] {
      if case .bool = additional {} else { found += problems(additional, at: at("additionalProperties")) }
    }
    if let items = object["items"] { found += problems(items, at: at("items")) }
    if let values = object["enum"] {
      if let list = values.arrayValue, !list.isEmpty {} else { found.append((at("enum"), "expected a non-empty list of allowed values")) }
    }
    // A schema no answer can satisfy would mark every answer invalid: refused too.
    let typeNames = (object["type"].map { $0.arrayValue ?? [$0] } ?? []).compactMap(\.stringValue).filter(types.contains)
    if !typeNames.isEmpty {
      let strays = (object["enum"]?.arrayValue ?? []).filter { value in !typeNames.contains(where: value.hasType) }
      if !strays.isEmpty {
        found.append((at("enum"), "\(strays.map(\.compactDescription).joined(separator: ", ")) not of type \(typeNames.joined(separator: " or ")), so no answer could give \(strays.count == 1 ? "it" : "them")"))
      }
      if let constant = object["const"], !typeNames.contains(where: constant.hasType) {
        found.append((at("const"), "\(constant.compactDescription) is not of type \(typeNames.joined(separator: " or "))"))
      }
    }
    for (low, high) in [("minItems", "maxItems"), ("minLength", "maxLength"), ("minimum", "maximum")] {
      if let a = object[low]?.doubleValue, let b = object[high]?.doubleValue, a > b {
        found.append((at(low), "\(low) \(object[low]!.compactDescription) is more than \(high) \(object[high]!.compactDescription), so no answer could satisfy both"))
      }
    }
    if let names = object["required"]?.arrayValue?.compactMap(\.stringValue), Set(names).count < names.count {
      found.append((at("required"), "a property is listed twice; list each once"))
    }
    for key in ["minItems", "maxItems", "minLength", "maxLength"] {
      if let value = object[key], (value.intValue.map { $0 < 0 } ?? true) { found.append((at(key), "expected a whole number, 0 or more")) }
    }
    for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
      if let value = object[key], value.doubleValue?.isFinite != true { found.append((at(key), "expected a number")) }
    }
    return found
  }

  /// Why `value` does not satisfy `schema` (empty when it does); the first few reasons.
  public static func violations(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
    guard case .object(let s) = schema else { return [] }
    var found: [String] = []
    if let type = s["type"] {
      let names = (type.arrayValue ?? [type]).compactMap(\.stringValue)
      if !names.contains(where: { value.hasType($0) }) {
        return ["\(path): expected \(names.joined(separator: " or ")), found \(value.kindName)"]
      }
    }
    if let allowed = s["enum"]?.arrayValue, !allowed.contains(where: { $0.sameJSON(as: value) }) {
      found.append("\(path): \(value.compactDescription) is not one of \(allowed.map(\.compactDescription).joined(separator: ", "))")
    }
    if let constant = s["const"], !constant.sameJSON(as: value) { found.append("\(path): expected \(constant.compactDescription)") }
    switch value {
    case .object(let object):
      let properties = s["properties"]?.objectValue ?? [:]
      for name in s["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
        found.append("\(path): '\(name)' is missing")
      }
      for (name, member) in object.sorted(by: { $0.key < $1.key }) {
        if let sub = properties[name] {
          found += violations(of: member, against: sub, at: "\(path).\(name)")
        } else if let additional = s["additionalProperties"] {
          if case .bool(false) = additional { found.append("\(path): '\(name)' is not an allowed property") }
          else { found += violations(of: member, against: additional, at: "\(path).\(name)") }
        }
      }
    case .array(let list):
      if let min = s["minItems"]?.intValue, list.count < min { found.append("\(path): fewer than \(min) items") }
      if let max = s["maxItems"]?.intValue, list.count > max { found.append("\(path): more than \(max) items") }
      if let items = s["items"] {
        for (index, element) in list.enumerated() { found += violations(of: element, against: items, at: "\(path)[\(index)]") }
      }
    case .string(let text):
      let length = text.unicodeScalars.count
      if let min = s["minLength"]?.intValue, length < min { found.append("\(path): shorter than \(min) characters") }
      if let max = s["maxLength"]?.intValue, length > max { found.append("\(path): longer than \(max) characters") }
    case .int, .double:
      let number = value.doubleValue ?? 0
      func bound(_ key: String, _ fails: (Double, Double) -> Bool, _ says: String) {
        if let limit = s[key], let value = limit.doubleValue, fails(number, value) { found.append("\(path): \(says) \(limit.compactDescription)") }
      }
      bound("minimum", <, "less than")
      bound("maximum", >, "more than")
      bound("exclusiveMinimum", <=, "not more than")
      bound("exclusiveMaximum", >=, "not less than")
    case .bool, .null:
      break
    }
    return Array(found.prefix(5))
  }

  /// The `enum` properties of an object schema, by name, in name order: the labels a
  /// classifier's answers are counted by in the report.
  public static func enumProperties(_ schema: JSONValue) -> [String] {
    guard let properties = schema.objectValue?["properties"]?.objectValue else { return [] }
    return properties.keys.sorted().filter { properties[$0]?.objectValue?["enum"] != nil }
  }
}

extension JSONValue {
  /// Whether the value is of a JSON Schema type; a whole double is an integer, as in JSON Schema.
  func hasType(_ name: String) -> Bool {
    switch (name, self) {
    case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): return true
    case ("number", .int), ("number", .double), ("integer", .int): return true
    case ("integer", .double(let value)): return value.rounded() == value
    default: return false
    }
  }

  /// JSON equality, with 1 and 1.0 the same number.
  func sameJSON(as other: JSONValue) -> Bool {
    switch (self, other) {
    case (.int, .double), (.double, .int): return doubleValue == other.doubleValue
    case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.sameJSON(as: $1) }
    case (.object(let a), .object(let b)): return a.count == b.count && a.allSatisfy { key, value in b[key].map(value.sameJSON) ?? false }
    default: return self == other
    }
  }

  /// What kind of JSON value this is, for messages.
  var kindName: String {
    switch self {
    case .object: return "an object"
    case .array: return "a list"
    case .string: return "text"
    case .int, .double: return "a number"
    case .bool: return "true or false"
    case .null: return "null"
    }
  }
}

/// A variant's or a prompt line's `format`: `json` (any JSON answer) or a JSON schema.
public enum StructuredFormat {
  /// What is wrong with a `format` value, with paths below the key.
  public static func problems(_ format: JSONValue) -> [(path: String, message: String)] {
    switch format {
    case .string("json"): return []
    case .object: return JSONSchema.problems(format)
    default: return [("", "expected json or a JSON schema (a mapping with type, properties, ...), found \(format.kindName) \(format.compactDescription)")]
    }
  }

  /// The schema an answer is checked against; nil for plain `json`.
  public static func schema(_ format: JSONValue) -> JSONValue? {
    if case .object = format { return format }
    return nil
  }

  /// Parses an answer as JSON (surrounding white space allowed) and checks it against the
  /// format: the parsed value (nil when the answer is not JSON) and whether it is valid.
  public static func check(_ answer: String, against format: JSONValue) -> (parsed: JSONValue?, valid: Bool, problems: [String]) {
    let text = answer.trimmingCharacters(in: .whitespacesAndNewlines)
    guard let data = text.data(using: .utf8), let parsed = try? JSONDecoder().decode(JSONValue.self, from: data) else {
      return (nil, false, ["the answer is not JSON"])
    }
    guard let schema = schema(format) else { return (parsed, true, []) }
    let problems = JSONSchema.violations(of: parsed, against: schema)
    return (parsed, problems.isEmpty, problems)
  }
}
