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
    while index < lines.count {
      let lineNumber = index + 1
      let line = lines[index].trimmingWhitespace()
      index += 1
      if line.isEmpty || line.hasPrefix("#") { continue }
      let (command, rawArgument) = splitFirstWord(line)
      // Arguments may span lines inside triple quotes, as in Ollama's parser.
      var argument = rawArgument
      if argument.hasPrefix("\"\"\"") {
        var body = String(argument.dropFirst(3))
        while !body.hasSuffix("\"\"\"") {
          guard index < lines.count else {
            problem(lineNumber, "\(command.uppercased()) opens \"\"\" but never closes it")
            break
          }
          body += "\n" + lines[index]
          index += 1
        }
        argument = body.hasSuffix("\"\"\"") ? String(body.dropLast(3)) : body
      } else if argument.count >= 2, argument.hasPrefix("\""), argument.hasSuffix("\"") {
        argument = String(argument.dropFirst().dropLast())
      }
      switch command.uppercased() {
      case "FROM":
        if argument.isEmpty { problem(lineNumber, "FROM needs a model name") }
        if modelfile.from != nil { problem(lineNumber, "FROM appears twice; a Modelfile has one base model") }
        modelfile.from = argument
      case "PARAMETER":
        let (name, valueText) = splitFirstWord(argument)
        let value = parameterValue(name: name, text: valueText)
        let found = OllamaOptions.problems(name: name, value: value)
        for message in found { problem(lineNumber, "PARAMETER \(message)") }
        guard found.isEmpty else { continue }
        if name == "stop" {
          stopWords.append(.string(unquote(valueText)))
        } else {
          modelfile.parameters[name] = OllamaOptions.normalized(name: name, value: value)
        }
      case "SYSTEM": modelfile.system = argument
      case "TEMPLATE": modelfile.template = argument
      case "LICENSE": modelfile.license.append(argument)
      case "MESSAGE":
        let (role, content) = splitFirstWord(argument)
        guard ["system", "user", "assistant"].contains(role) else {
          problem(lineNumber, "MESSAGE role '\(role)' must be system, user or assistant")
          continue
        }
        modelfile.messages.append(ChatMessage(role: role, content: unquote(content)))
      case "ADAPTER":
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

  private static func unquote(_ text: String) -> String {
    if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { return String(text.dropFirst().dropLast()) }
    return text
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
