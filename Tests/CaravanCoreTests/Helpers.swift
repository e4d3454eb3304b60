@testable import CaravanCore
import Testing

/// The problems `SpecParser.parse` reports for `text`; records an issue when it accepts the spec.
func specProblems(_ text: String, file: String = "job.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> [Problem] {
  specError(text, file: file, sourceLocation: sourceLocation)?.problems ?? []
}

/// The error `SpecParser.parse` throws for `text`, or nil (with a recorded issue) when it accepts it.
func specError(_ text: String, file: String = "job.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> InputError? {
  #expect(throws: InputError.self, "expected the spec to be rejected", sourceLocation: sourceLocation) {
    try SpecParser.parse(text, file: file)
  }
}

/// The problems `PromptFile.parse` reports; records an issue when it accepts the file.
func promptProblems(_ text: String, file: String = "prompts.jsonl", sourceLocation: SourceLocation = #_sourceLocation) -> [Problem] {
  let error = #expect(throws: InputError.self, "expected the prompt file to be rejected", sourceLocation: sourceLocation) {
    try PromptFile.parse(text, file: file)
  }
  return error?.problems ?? []
}

/// The one problem whose key path is `keyPath`; records an issue when there is not exactly one.
func problem(at keyPath: String, in problems: [Problem], sourceLocation: SourceLocation = #_sourceLocation) -> Problem? {
  let matching = problems.filter { $0.keyPath == keyPath }
  guard matching.count == 1 else {
    Issue.record("expected one problem at '\(keyPath)', found \(matching.count) in:\n\(problems.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    return nil
  }
  return matching[0]
}

/// The 1-based line of the first line of `text` that contains `marker`.
func line(of marker: String, in text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
  let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
  guard let index = lines.firstIndex(where: { $0.contains(marker) }) else {
    Issue.record("'\(marker)' is not in the text", sourceLocation: sourceLocation)
    return nil
  }
  return index + 1
}

/// A spec that passes validation, to which tests add one mistake at a time.
let minimalSpec = """
  name: demo
  model: gemma:7b
  prompts: prompts.jsonl
  container:
    runtime: none

  """

/// A prompt with a bare text input.
func prompt(_ id: String, line: Int, variants: [String]? = nil, options: Options = [:]) -> Prompt {
  Prompt(id: id, input: .prompt("question \(id)"), options: options, variants: variants, line: line)
}

extension JSONValue {
  /// The value as it reads on the wire: a whole-number double such as 1.0 becomes the integer 1,
  /// as Go's encoder (Ollama's) also writes it. Tests compare meanings, not representations.
  var canonical: JSONValue {
    switch self {
    case .double(let value) where value.rounded() == value && abs(value) < 1e15: return .int(Int(value))
    case .array(let values): return .array(values.map(\.canonical))
    case .object(let fields): return .object(fields.mapValues(\.canonical))
    default: return self
    }
  }
}

extension Dictionary where Key == String, Value == JSONValue {
  /// Each value's `canonical` form.
  var canonical: [String: JSONValue] { mapValues(\.canonical) }
}
