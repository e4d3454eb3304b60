/// One request's timings in Ollama's terms (nanoseconds and token counts), shared by the engine
/// clients' completions and the records. Answers of OpenAI-compatible servers are mapped into
/// the same fields, and `source` says where the durations came from.
public struct ServerTimings: Sendable, Equatable, Codable {
  /// The engine measured the durations (Ollama's fields, llama.cpp's `timings`), or the client
  /// did (prefill = time to the first token, decode = the rest), for servers that send none.
  public enum Source: String, Sendable, Codable {
    case engine, client
  }

  public var totalDuration: Int?
  public var loadDuration: Int?
  /// Prompt tokens the server evaluated (tokens served from its prompt cache are not counted).
  public var promptEvalCount: Int?
  public var promptEvalDuration: Int?
  public var evalCount: Int?
  public var evalDuration: Int?
  public var source: Source?

  public init() {}

  /// Reads Ollama's fields from a final response object.
  public init(ollama object: JSONValue) {
    totalDuration = object["total_duration"]?.intValue
    loadDuration = object["load_duration"]?.intValue
    promptEvalCount = object["prompt_eval_count"]?.intValue
    promptEvalDuration = object["prompt_eval_duration"]?.intValue
    evalCount = object["eval_count"]?.intValue
    evalDuration = object["eval_duration"]?.intValue
    if promptEvalDuration != nil || evalDuration != nil { source = .engine }
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case totalDuration = "total_duration"
    case loadDuration = "load_duration"
    case promptEvalCount = "prompt_eval_count"
    case promptEvalDuration = "prompt_eval_duration"
    case evalCount = "eval_count"
    case evalDuration = "eval_duration"
    case source = "timing_source"
  }

  /// Every key is written, null when unknown, so each record line has the same columns.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(totalDuration, forKey: .totalDuration)
    try c.encode(loadDuration, forKey: .loadDuration)
    try c.encode(promptEvalCount, forKey: .promptEvalCount)
    try c.encode(promptEvalDuration, forKey: .promptEvalDuration)
    try c.encode(evalCount, forKey: .evalCount)
    try c.encode(evalDuration, forKey: .evalDuration)
    try c.encode(source, forKey: .source)
  }
}
