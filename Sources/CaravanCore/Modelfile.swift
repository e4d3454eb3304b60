/// A parsed Modelfile: what `ollama create -f Modelfile` reads, sent as today's `/api/create` body.
///
/// Ollama removed the `modelfile` field of `/api/create` in v0.5.5; clients must parse the text
/// themselves and send `from`, `parameters`, `system`, `template` and `messages`.
public struct Modelfile: Sendable, Equatable, Codable {
  public var from: String?
  public var parameters: Options = [:]
  public var system: String?
  public var template: String?
  public var messages: [ChatMessage] = []
  public var license: [String] = []

  public init() {}

  /// Parses Modelfile text; problems carry 1-based lines within the text.
  public static func parse(_ text: String) -> Result<Modelfile, InputError> {
    var modelfile = Modelfile()
    var problems: [Problem] = []
    var stopWords: [JSONValue] = []
    let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
    var index = 0
    func problem(_ line: Int, _ message: String) {
      problems.append(Problem(file: "Modelfile", line: line, message: message))
    }
    /// The rest of a value that opens `"""` or `"`: Ollama's parser reads on, across lines, until
    /// the text (trailing blanks aside) ends with the same quote, and keeps what lies between.
    func value(_ start: String, command: String, line lineNumber: Int) -> String {
      let quote = start.hasPrefix("\"\"\"") ? "\"\"\"" : start.hasPrefix("\"") ? "\"" : ""
      guard !quote.isEmpty else { return start }
      var text = start
      func closed() -> Bool {
        let trimmed = text.trimmingTrailingWhitespace()
        return trimmed.count >= 2 * quote.count && trimmed.hasSuffix(quote)
      }
      while !closed() {
        guard index < lines.count else {
          problem(lineNumber, "\(command.uppercased()) opens \(quote) but never closes it")
          return String(text.dropFirst(quote.count))
        }
        text += "\n" + lines[index]
        index += 1
      }
      return String(text.trimmingTrailingWhitespace().dropFirst(quote.count).dropLast(quote.count))
    }
    while index < lines.count {
      let lineNumber = index + 1
      let line = lines[index].trimmingWhitespace()
      index += 1
      if line.isEmpty || line.hasPrefix("#") { continue }
      // Instructions are case-insensitive; parameter names and message roles are not (as in Ollama).
      let (command, rest) = splitFirstWord(line)
      switch command.uppercased() {
      case "FROM":
        let argument = value(rest, command: command, line: lineNumber)
        if argument.isEmpty { problem(lineNumber, "FROM needs a model name") }
        if modelfile.from != nil { problem(lineNumber, "FROM appears twice; a Modelfile has one base model") }
        modelfile.from = argument
      case "PARAMETER":
        let (name, start) = splitFirstWord(rest)
        let valueText = value(start, command: command, line: lineNumber)
        let parsed = parameterValue(name: name, text: valueText)
        let found = OllamaOptions.problems(name: name, value: parsed)
        for message in found { problem(lineNumber, "PARAMETER \(message)") }
        guard found.isEmpty else { continue }
        if name == "stop" {
          stopWords.append(.string(valueText))
        } else {
          modelfile.parameters[name] = OllamaOptions.normalized(name: name, value: parsed)
        }
      case "SYSTEM": modelfile.system = value(rest, command: command, line: lineNumber)
      case "TEMPLATE": modelfile.template = value(rest, command: command, line: lineNumber)
      case "LICENSE": modelfile.license.append(value(rest, command: command, line: lineNumber))
      case "MESSAGE":
        let (role, start) = splitFirstWord(rest)
        let content = value(start, command: command, line: lineNumber)
        guard ["system", "user", "assistant"].contains(role) else {
          problem(lineNumber, "MESSAGE role '\(role)' must be system, user or assistant")
          continue
        }
        modelfile.messages.append(ChatMessage(role: role, content: content))
      case "ADAPTER":
        _ = value(rest, command: command, line: lineNumber)
        problem(lineNumber, "ADAPTER is not supported by Caravan yet (it needs a blob upload); create that model with `ollama create` beforehand and use FROM")
      default:
        var message = "unknown Modelfile instruction '\(command)'"
        let known = ["FROM", "PARAMETER", "SYSTEM", "TEMPLATE", "MESSAGE", "ADAPTER", "LICENSE"]
        if let guess = closestMatch(to: command.uppercased(), among: known) { message += "; did you mean \(guess)?" }
        problem(lineNumber, message)
      }
    }
    if !stopWords.isEmpty { modelfile.parameters["stop"] = .array(stopWords) }
    return problems.isEmpty ? .success(modelfile) : .failure(InputError(problems))
  }

  /// The `/api/create` body that registers this Modelfile as model `name`.
  public func createRequest(name: String) -> JSONValue {
    var body: [String: JSONValue] = ["model": .string(name), "stream": .bool(false)]
    if let from { body["from"] = .string(from) }
    if !parameters.isEmpty { body["parameters"] = .object(parameters) }
    if let system { body["system"] = .string(system) }
    if let template { body["template"] = .string(template) }
    if !messages.isEmpty {
      body["messages"] = .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
    }
    if !license.isEmpty { body["license"] = .array(license.map(JSONValue.string)) }
    return .object(body)
  }

  private static func splitFirstWord(_ text: String) -> (String, String) {
    guard let space = text.firstIndex(where: \.isWhitespace) else { return (text, "") }
    return (String(text[..<space]), String(text[space...]).trimmingWhitespace())
  }

  private static func parameterValue(name: String, text: String) -> JSONValue {
    switch OllamaOptions.known[name] {
    case .integer?: return Int(text).map(JSONValue.int) ?? .string(text)
    case .number?: return Double(text).map(JSONValue.double) ?? .string(text)
    case .boolean?: return ["true": JSONValue.bool(true), "false": .bool(false)][text.lowercased()] ?? .string(text)
    default: return .string(text)
    }
  }
}

/// One chat message, as `/api/chat` takes it.
public struct ChatMessage: Sendable, Hashable, Codable {
  public var role: String
  public var content: String
  public init(role: String, content: String) {
    self.role = role
    self.content = content
  }
}

extension String {
  /// The text without blanks at its end (a closing quote may be followed by spaces).
  fileprivate func trimmingTrailingWhitespace() -> String {
    String(reversed().drop(while: \.isWhitespace).reversed())
  }
}
