import Foundation

/// One prompt from the prompt file, before variants and repeats multiply it.
public struct Prompt: Sendable, Equatable, Codable {
  public var id: String
  public var input: PromptInput
  /// Per-line options; they override the variant's.
  public var options: Options
  /// Variants this prompt runs under; nil means every variant.
  public var variants: [String]?
  /// 1-based line in the prompt file.
  public var line: Int
  /// The line's `meta` (any JSON: labels, gold answers), copied unchanged into its records.
  public var meta: JSONValue?
  /// The line's structured-output `format` (`json` or a JSON schema); it wins over the variant's.
  public var format: JSONValue?

  public init(id: String, input: PromptInput, options: Options = [:], variants: [String]? = nil, line: Int, meta: JSONValue? = nil) {
    self.id = id
    self.input = input
    self.options = options
    self.variants = variants
    self.line = line
    self.meta = meta
  }
}

/// What is sent: a bare prompt (`/api/generate`) or a conversation (`/api/chat`).
/// Encoded as `{"prompt": "..."}` or `{"messages": [...]}`, as in the prompt file.
public enum PromptInput: Sendable, Equatable, Codable {
  case prompt(String)
  case messages([ChatMessage])

  enum CodingKeys: String, CodingKey { case prompt, messages }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    if let prompt = try container.decodeIfPresent(String.self, forKey: .prompt) {
      self = .prompt(prompt)
    } else {
      self = .messages(try container.decode([ChatMessage].self, forKey: .messages))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .prompt(let prompt): try container.encode(prompt, forKey: .prompt)
    case .messages(let messages): try container.encode(messages, forKey: .messages)
    }
  }
}

/// Reads prompt files in three forms: Caravan JSONL, OpenAI batch JSONL, and plain text.
public enum PromptFile {
  /// Parses a prompt file; `file` names it in messages, and its extension picks the form.
  public static func parse(_ text: String, file: String) throws(InputError) -> [Prompt] {
    // Split on the UTF-8 bytes ("\r\n" is one Character, and walking Characters is slow on a
    // long line); a UTF-8 byte order mark before the first line is not part of it.
    var bytes = Substring(text).utf8[...]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
    var prompts: [Prompt] = []
    var problems: [Problem] = []
    var firstLineOfID: [String: Int] = [:]
    let plainText = file.lowercased().hasSuffix(".txt")

    for (offset, rawLine) in lines.enumerated() {
      let lineNumber = offset + 1
      if rawLine.count > InputLimits.maxPromptLineBytes {
        problems.append(Problem(file: file, line: lineNumber, message: "the line is \(grouped(rawLine.count)) bytes long; the most is \(grouped(InputLimits.maxPromptLineBytes)) (is this a prompt file?)"))
        continue
      }
      if rawLine.contains(0) {
        problems.append(Problem(file: file, line: lineNumber, message: "the line has a NUL byte; a prompt file is text (is this a binary file?)"))
        continue
      }
      let line = String(Substring(rawLine.last == 13 ? rawLine.dropLast() : rawLine))
      if line.allSatisfy(\.isWhitespace) { continue }
      let parsed: Result<Prompt, Problem>
      if plainText {
        parsed = .success(Prompt(id: "line-\(lineNumber)", input: .prompt(line), line: lineNumber))
      } else {
        parsed = parseJSONLine(line, file: file, line: lineNumber)
      }
      switch parsed {
      case .success(let prompt):
        if let first = firstLineOfID[prompt.id] {
          problems.append(Problem(file: file, line: lineNumber, message: "duplicate id '\(prompt.id)' (first used on line \(first)); ids must be unique"))
        } else {
          firstLineOfID[prompt.id] = lineNumber
          prompts.append(prompt)
        }
      case .failure(let problem):
        problems.append(problem)
      }
    }
    if problems.isEmpty && prompts.isEmpty {
      problems.append(Problem(file: file, line: nil, message: "the prompt file has no prompts"))
    }
    guard problems.isEmpty else { throw InputError(problems) }
    return prompts
  }

  private static func parseJSONLine(_ line: String, file: String, line lineNumber: Int) -> Result<Prompt, Problem> {
    func fail(_ message: String) -> Result<Prompt, Problem> {
      .failure(Problem(file: file, line: lineNumber, message: message))
    }
    let shape = "each line must be {\"id\": ..., \"prompt\": ...} (or use a .txt file for plain prompts)"
    guard let value = FastJSON.value(Data(line.utf8)) else {
      return fail("not valid JSON (or nested too deeply); \(shape)")
    }
    guard let object = value.objectValue else { return fail("not a JSON object; \(shape)") }
    if object["custom_id"] != nil { return parseOpenAILine(object, file: file, line: lineNumber) }

    let allowed = ["id", "prompt", "messages", "options", "system", "variants", "meta", "format"]
    for key in object.keys.sorted() where !allowed.contains(key) {
      var message = "unknown key '\(key)'"
      if let guess = closestMatch(to: key, among: allowed) { message += "; did you mean '\(guess)'?" }
      return fail(message + " (allowed: \(allowed.joined(separator: ", ")))")
    }
    guard let id = identifier(object["id"]) else { return fail("every line needs an \"id\" (text or number)") }
    var options: Options = [:]
    if let given = object["options"] {
      guard let map = given.objectValue else { return fail("\"options\" must be an object of Ollama options") }
      for name in map.keys.sorted() {
        if let message = OllamaOptions.problems(name: name, value: map[name]!).first { return fail("options.\(name): \(message)") }
        options[name] = OllamaOptions.normalized(name: name, value: map[name]!)
      }
    }
    var variants: [String]?
    if let given = object["variants"] {
      guard let list = given.arrayValue?.compactMap(\.stringValue), list.count == given.arrayValue?.count, !list.isEmpty else {
        return fail("\"variants\" must be a non-empty list of variant names")
      }
      variants = list
    }
    var format: JSONValue?
    if let given = object["format"], given != .null {
      if let (path, message) = StructuredFormat.problems(given).first { return fail(path.isEmpty ? "\"format\": \(message)" : "format.\(path): \(message)") }
      format = given
    }
    func done(_ prompt: Prompt) -> Result<Prompt, Problem> {
      var prompt = prompt
      prompt.format = format
      return .success(prompt)
    }
    switch (object["prompt"], object["messages"]) {
    case (let prompt?, nil):
      guard let text = prompt.stringValue else { return fail("\"prompt\" must be text") }
      if let system = object["system"]?.stringValue {
        return done(Prompt(id: id, input: .prompt(text).withSystem(system), options: options, variants: variants, line: lineNumber, meta: object["meta"]))
      }
      return done(Prompt(id: id, input: .prompt(text), options: options, variants: variants, line: lineNumber, meta: object["meta"]))
    case (nil, let messages?):
      switch parseMessages(messages) {
      case .success(let list):
        let input = object["system"]?.stringValue.map { PromptInput.messages(list).withSystem($0) } ?? .messages(list)
        return done(Prompt(id: id, input: input, options: options, variants: variants, line: lineNumber, meta: object["meta"]))
      case .failure(let problem): return fail(problem.message)
      }
    case (.some, .some): return fail("give either \"prompt\" or \"messages\", not both")
    case (nil, nil): return fail("line \(lineNumber) with id '\(id)' has neither \"prompt\" nor \"messages\"")
    }
  }

  /// OpenAI Batch API input: {"custom_id", "method", "url", "body": {"messages", sampling fields}}.
  private static func parseOpenAILine(_ object: [String: JSONValue], file: String, line lineNumber: Int) -> Result<Prompt, Problem> {
    func fail(_ message: String) -> Result<Prompt, Problem> {
      .failure(Problem(file: file, line: lineNumber, message: message))
    }
    guard let id = identifier(object["custom_id"]) else { return fail("\"custom_id\" must be text") }
    guard let body = object["body"]?.objectValue else { return fail("OpenAI batch lines need a \"body\" object") }
    // OpenAI's names and the Ollama options they become; `model` is ignored: the spec's model runs.
    let mapping: [String: String] = [
      "temperature": "temperature", "top_p": "top_p", "seed": "seed", "stop": "stop",
      "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
      "max_tokens": "num_predict", "max_completion_tokens": "num_predict",
      "top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repeat_penalty",
    ]
    var options: Options = [:]
    for key in body.keys.sorted() where !["messages", "model", "prompt"].contains(key) {
      guard let option = mapping[key] else {
        return fail("body.\(key) has no Ollama equivalent; supported: \(mapping.keys.sorted().joined(separator: ", "))")
      }
      let value = body[key]!
      if value == .null { continue }
      if let message = OllamaOptions.problems(name: option, value: value).first { return fail("body.\(key): \(message)") }
      options[option] = OllamaOptions.normalized(name: option, value: value)
    }
    if let messages = body["messages"] {
      switch parseMessages(messages) {
      case .success(let list): return .success(Prompt(id: id, input: .messages(list), options: options, line: lineNumber))
      case .failure(let problem): return fail("body." + problem.message)
      }
    }
    if let prompt = body["prompt"]?.stringValue {
      return .success(Prompt(id: id, input: .prompt(prompt), options: options, line: lineNumber))
    }
    return fail("body needs \"messages\" (chat) or \"prompt\" (completion)")
  }

  private static func parseMessages(_ value: JSONValue) -> Result<[ChatMessage], Problem> {
    func fail(_ message: String) -> Result<[ChatMessage], Problem> { .failure(Problem(file: "", line: nil, message: message)) }
    guard let items = value.arrayValue, !items.isEmpty else { return fail("messages must be a non-empty list") }
    var messages: [ChatMessage] = []
    for (index, item) in items.enumerated() {
      guard let role = item["role"]?.stringValue, ["system", "user", "assistant", "tool"].contains(role) else {
        return fail("messages[\(index)].role must be system, user, assistant or tool")
      }
      guard let content = item["content"]?.stringValue else {
        return fail("messages[\(index)].content must be text")
      }
      messages.append(ChatMessage(role: role, content: content))
    }
    return .success(messages)
  }

  private static func identifier(_ value: JSONValue?) -> String? {
    switch value {
    case .string(let text)? where !text.isEmpty: return text
    case .int(let number)?: return String(number)
    default: return nil
    }
  }
}
