/// The per-request `options` Ollama understands, with the ranges a user can get wrong.
///
/// Ollama ignores unknown option names (it only logs them), so a typo such as `temprature`
/// silently changes nothing. Caravan checks names and values before anything is submitted.
public enum OllamaOptions {
  /// What kind of value an option takes.
  public enum Kind: Sendable {
    case number(ClosedRange<Double>?)
    case integer(ClosedRange<Int>?)
    case boolean
    case stopList
  }

  /// Options that exist in today's Ollama (api/types.go: Options and Runner).
  public static let known: [String: Kind] = [
    "temperature": .number(0...Double.greatestFiniteMagnitude),
    "top_k": .integer(0...Int.max),
    "top_p": .number(0...1),
    "min_p": .number(0...1),
    "typical_p": .number(0...1),
    "seed": .integer(nil),
    "num_predict": .integer(-2...Int.max),
    "repeat_penalty": .number(0...Double.greatestFiniteMagnitude),
    "repeat_last_n": .integer(-1...Int.max),
    "presence_penalty": .number(nil),
    "frequency_penalty": .number(nil),
    "stop": .stopList,
    "num_keep": .integer(-1...Int.max),
    "num_ctx": .integer(1...Int.max),
    "num_batch": .integer(1...Int.max),
    "num_gpu": .integer(-1...Int.max),
    "main_gpu": .integer(0...Int.max),
    "use_mmap": .boolean,
    "num_thread": .integer(0...Int.max),
  ]

  /// Options Ollama removed in 2025; its docs still show some of them.
  public static let removed: Set<String> = [
    "mirostat", "mirostat_eta", "mirostat_tau", "tfs_z", "numa", "penalize_newline",
    "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
  ]

  /// Problems with one option, as sentences; empty when the option is valid.
  public static func problems(name: String, value: JSONValue) -> [String] {
    if removed.contains(name) {
      return ["option '\(name)' was removed from Ollama and is silently ignored by the server; delete it"]
    }
    guard let kind = known[name] else {
      var message = "unknown Ollama option '\(name)' (the server would silently ignore it)"
      if let guess = closestMatch(to: name, among: known.keys) {
        message += "; did you mean '\(guess)'?"
      }
      return [message]
    }
    switch kind {
    case .number(let range):
      guard let number = value.doubleValue else {
        return ["option '\(name)' must be a number, not \(describe(value))"]
      }
      // YAML's 1e999 reads as infinity, which JSON cannot carry to the server.
      guard number.isFinite else { return ["option '\(name)' must be a finite number, not \(value.compactDescription)"] }
      if let range, !range.contains(number) {
        return ["option '\(name)' is \(value.compactDescription) but must be \(describe(range))"]
      }
    case .integer(let range):
      guard let number = value.intValue else {
        return ["option '\(name)' must be a whole number, not \(describe(value))"]
      }
      if let range, !range.contains(number) {
        return ["option '\(name)' is \(number) but must be \(describe(range))"]
      }
    case .boolean:
      if value.boolValue == nil { return ["option '\(name)' must be true or false, not \(describe(value))"] }
    case .stopList:
      if value.stringValue != nil { return [] }
      guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
        return ["option 'stop' must be a string or a list of strings"]
      }
    }
    return []
  }

  /// Normalises a value to the JSON type Ollama expects (`stop: "x"` becomes `["x"]`, `3.0` for ints becomes `3`).
  public static func normalized(name: String, value: JSONValue) -> JSONValue {
    switch known[name] {
    case .integer?: return value.intValue.map(JSONValue.int) ?? value
    // Whole numbers become ints only where an Int holds them exactly (1e300 stays a double).
    case .number?: return value.doubleValue.map { $0.rounded() == $0 && abs($0) < 1e15 ? .int(Int($0)) : .double($0) } ?? value
    case .stopList?: return value.stringValue.map { .array([.string($0)]) } ?? value
    default: return value
    }
  }

  private static func describe(_ value: JSONValue) -> String {
    switch value {
    case .string(let text): return "the text '\(text)'"
    default: return value.compactDescription
    }
  }

  private static func describe(_ range: ClosedRange<Double>) -> String {
    if range.upperBound == .greatestFiniteMagnitude { return ">= \(plain(range.lowerBound))" }
    return "between \(plain(range.lowerBound)) and \(plain(range.upperBound))"
  }

  /// `0`, `1`, `0.5`: how a person writes a bound.
  private static func plain(_ value: Double) -> String {
    value.rounded() == value ? String(Int(value)) : "\(value)"
  }

  private static func describe(_ range: ClosedRange<Int>) -> String {
    if range.upperBound == .max { return ">= \(range.lowerBound)" }
    return "between \(range.lowerBound) and \(range.upperBound)"
  }
}
