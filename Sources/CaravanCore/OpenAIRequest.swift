/// How a work item becomes a request to an OpenAI-compatible server (llama.cpp's
/// `llama-server`, vLLM, SGLang): `/v1/chat/completions` for messages, `/v1/completions` for a
/// plain prompt, both streamed with usage so that the time to the first token is measured.
public enum OpenAIRequest {
  /// Ollama option names and the body fields they become. OpenAI's own fields pass as they
  /// are; `num_predict` is `max_tokens`; `top_k`, `min_p` and the repeat penalty are extensions
  /// that vLLM, SGLang and llama.cpp read at the top level of the body (the repeat penalty is
  /// `repeat_penalty` to llama.cpp and `repetition_penalty` to vLLM and SGLang, so both are sent:
  /// each server ignores the name it does not know).
  public static let fields: [String: [String]] = [
    "temperature": ["temperature"],
    "top_p": ["top_p"],
    "seed": ["seed"],
    "stop": ["stop"],
    "presence_penalty": ["presence_penalty"],
    "frequency_penalty": ["frequency_penalty"],
    "num_predict": ["max_tokens"],
    "top_k": ["top_k"],
    "min_p": ["min_p"],
    "repeat_penalty": ["repeat_penalty", "repetition_penalty"],
  ]

  /// Why an Ollama option cannot be sent to an OpenAI-compatible server, or nil when it can.
  public static func refusal(option name: String) -> String? {
    guard fields[name] == nil else { return nil }
    let serverSide: Set<String> = ["num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "num_keep"]
    if serverSide.contains(name) {
      return "engine.kind openai cannot send '\(name)': an OpenAI-compatible server takes it on its own command line (engine.command, e.g. llama-server -c for num_ctx); remove it"
    }
    return "engine.kind openai cannot send '\(name)': OpenAI-compatible servers honour only \(fields.keys.sorted().joined(separator: ", ")); remove it or use engine.kind ollama"
  }

  /// OpenAI's `response_format` for a spec `format`: `json_object` for `json`, else
  /// `json_schema` with the schema (llama.cpp turns it into a grammar; vLLM and SGLang into
  /// guided decoding).
  public static func responseFormat(_ format: JSONValue) -> JSONValue {
    guard let schema = StructuredFormat.schema(format) else { return .object(["type": .string("json_object")]) }
    return .object([
      "type": .string("json_schema"),
      "json_schema": .object(["name": .string("caravan"), "schema": schema, "strict": .bool(true)]),
    ])
  }

  /// The path and JSON body for `item`, streamed with a final usage chunk.
  public static func body(for item: WorkItem) -> (path: String, body: JSONValue) {
    var body: [String: JSONValue] = [
      "model": .string(item.model),
      "stream": .bool(true),
      "stream_options": .object(["include_usage": .bool(true)]),
    ]
    for (name, value) in item.options.sorted(by: { $0.key < $1.key }) {
      // Ollama's "no value" sentinels: a random seed, no limit on generated tokens.
      if name == "seed", value.intValue.map({ $0 < 0 }) == true { continue }
      if name == "num_predict", value.intValue.map({ $0 < 0 }) == true { continue }
      for field in fields[name] ?? [] { body[field] = value }
    }
    if let format = item.format { body["response_format"] = responseFormat(format) }
    switch item.input {
    case .prompt(let prompt):
      body["prompt"] = .string(prompt)
      // llama.cpp reads `response_format` on chat requests only; on completions it takes the
      // schema as its own top-level `json_schema` (vLLM and SGLang ignore the unknown field).
      if let format = item.format { body["json_schema"] = StructuredFormat.schema(format) ?? .object(["type": .string("object")]) }
      return ("/v1/completions", .object(body))
    case .messages(let messages):
      body["messages"] = .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
      return ("/v1/chat/completions", .object(body))
    }
  }
}
