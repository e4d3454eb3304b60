import AsyncHTTPClient
import CaravanCore
import Foundation
import NIOCore
import NIOHTTP1

/// A client for OpenAI-compatible servers: llama.cpp's `llama-server`, vLLM and SGLang. They
/// load their one model at start and serve it under one name (vLLM's `--served-model-name`,
/// llama-server's `--alias`), which is the spec's `model`.
public struct OpenAIClient: InferenceEngine {
  public let baseURL: String
  let httpClient: HTTPClient
  /// Longest one request may take, generation included (`engine.request_timeout`).
  public var requestTimeout: TimeAmount
  /// Streamed requests go this way to an `http://` server (nil: through `httpClient`).
  var plain: PlainHTTP?

  public init(baseURL: String, requestTimeout: Duration, http: HTTPClient = .ollama) {
    self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    self.requestTimeout = .nanoseconds(requestTimeout.nanoseconds)
    self.httpClient = http
    self.plain = PlainHTTP(baseURL: self.baseURL)
  }

  public func isReady() async -> Bool { await isReady(timeout: .seconds(2)) }

  /// Nothing to create: a variant's Modelfile became request options and messages at plan time.
  public func register(_ variant: Variant) async throws(OllamaError) {}

  /// The model was loaded when the server started (load time is start to ready); this checks
  /// that it is the one requests name.
  public func load(model: String) async throws(OllamaError) -> Duration? {
    try await checkServes(model: model)
    return nil
  }

  /// `GET /health` answers 200 once the model is loaded (llama.cpp answers 503 while it loads);
  /// a server without it (404) is asked `GET /v1/models` instead.
  public func isReady(timeout: TimeAmount) async -> Bool {
    do {
      let health = try await httpClient.execute(HTTPClientRequest(url: baseURL + "/health"), timeout: timeout)
      _ = try await health.body.collect(upTo: 1 << 16)
      if health.status == .ok { return true }
      guard health.status == .notFound else { return false }
      let models = try await httpClient.execute(HTTPClientRequest(url: baseURL + "/v1/models"), timeout: timeout)
      _ = try await models.body.collect(upTo: 1 << 20)
      return models.status == .ok
    } catch {
      return false
    }
  }

  /// The names `GET /v1/models` lists (`data[].id`).
  public func servedModels() async throws(OllamaError) -> [String] {
    let object = try await call("/v1/models")
    return object["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
  }

  /// Checks that the server serves `model`. These servers load their model at start (model load
  /// is start to ready), and most answer any `model` with the one they have, so a request to the
  /// wrong server would not fail: a model not listed is a missing model, said once.
  public func checkServes(model: String) async throws(OllamaError) {
    let served = try await servedModels()
    guard served.contains(model) else {
      throw .server(status: 404, message: "model \"\(model)\" not found: the server serves \(served.map { "'\($0)'" }.joined(separator: ", ")); start it with that name (vLLM --served-model-name, llama-server --alias)")
    }
  }

  /// Sends one item, streamed (server-sent events with a final usage chunk). A stream that ends
  /// without `data: [DONE]`, or an event with an `error`, throws `.midStream`.
  public func complete(_ item: WorkItem) async throws(OllamaError) -> Completion {
    let (path, body) = OpenAIRequest.body(for: item)
    let data: Data
    do { data = try JSONFormats.data(body) } catch { throw .decoding("could not encode the request: \(error)") }
    let events = OpenAIStream(started: .now)
    if let plain { return try await plain.stream(path: path, body: data, accept: "text/event-stream", events, within: requestTimeout) }
    return try await httpClient.stream(url: baseURL + path, body: data, accept: "text/event-stream", events, within: requestTimeout)
  }

  /// `POST /v1/embeddings` with every input at once: `data[].embedding`, put in input order by
  /// `data[].index`, and `usage.prompt_tokens`. Options are not sent: these servers take none.
  public func embed(model: String, inputs: [String], options: Options) async throws(OllamaError) -> Embeddings {
    let body: JSONValue = .object(["model": .string(model), "input": .array(inputs.map(JSONValue.string)), "encoding_format": .string("float")])
    var request = HTTPClientRequest(url: baseURL + "/v1/embeddings")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    do { request.body = .bytes(ByteBuffer(bytes: try JSONFormats.data(body))) } catch { throw .decoding("could not encode the request: \(error)") }
    let bytes: ByteBuffer
    do {
      let response = try await httpClient.execute(request, timeout: requestTimeout)
      bytes = try await response.body.collect(upTo: 256 << 20)
      guard response.status == .ok else { throw OllamaError.server(status: Int(response.status.code), message: Self.errorMessage(bytes)) }
    } catch {
      throw OllamaError.classify(error, timeout: requestTimeout)
    }
    guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(String(buffer: bytes).utf8)), let data = object["data"]?.arrayValue else {
      throw .decoding("/v1/embeddings answered no \"data\" list")
    }
    let ordered = data.enumerated().sorted { ($0.element["index"]?.intValue ?? $0.offset) < ($1.element["index"]?.intValue ?? $1.offset) }
    guard let vectors = Embeddings.vectors(ordered.map { $0.element["embedding"] ?? .null }) else {
      throw .decoding("/v1/embeddings answered an embedding that is not a list of numbers")
    }
    return try Embeddings(vectors: vectors, promptTokens: object["usage"]?["prompt_tokens"]?.intValue).checked(inputs: inputs.count, from: "/v1/embeddings")
  }

  /// OpenAI's `{"error": {"message": ...}}`, vLLM's `{"message": ...}`, or the text itself.
  static func errorMessage(_ bytes: ByteBuffer) -> String {
    let text = String(buffer: bytes)
    let object = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    return object?["error"]?["message"]?.stringValue ?? object?["error"]?.stringValue ?? object?["message"]?.stringValue
      ?? (text.isEmpty ? "no message" : String(text.prefix(500)))
  }

  private func call(_ path: String) async throws(OllamaError) -> JSONValue {
    let bytes: ByteBuffer
    let status: Int
    do {
      let response = try await httpClient.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(30))
      status = Int(response.status.code)
      bytes = try await response.body.collect(upTo: 16 << 20)
    } catch {
      throw .transport(String(describing: error))
    }
    guard (200..<300).contains(status) else { throw .server(status: status, message: Self.errorMessage(bytes)) }
    guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(String(buffer: bytes).utf8)) else {
      throw .decoding("not JSON from \(path): \(String(buffer: bytes).prefix(200))")
    }
    return object
  }
}

/// The events of one streamed answer, folded into a `Completion` as they arrive.
///
/// Chat chunks carry `choices[0].delta.content`, completion chunks `choices[0].text`; a chunk
/// has `finish_reason`; the last one (or the finish chunk) has `usage` and, from llama.cpp,
/// `timings` in milliseconds. Lines starting with `:` are keep-alive comments.
struct OpenAIStream: StreamedLines {
  let started: ContinuousClock.Instant
  var text = ""
  var firstToken: Duration?
  var finishReason: String?
  var usage: JSONValue?
  var timings: JSONValue?

  init(started: ContinuousClock.Instant) { self.started = started }

  /// Takes one line; returns the completion at `data: [DONE]`.
  mutating func read(_ line: Data, at now: ContinuousClock.Instant) throws(OllamaError) -> Completion? {
    guard line.starts(with: Array("data:".utf8)) else { return nil }  // comments, event:, id:
    var payload = line.dropFirst(5)
    if payload.first == UInt8(ascii: " ") { payload = payload.dropFirst() }
    if payload.elementsEqual("[DONE]".utf8) { return completion(at: now) }
    guard let event = OpenAIEvent.decode(Data(payload)) else {
      throw .decoding("not JSON in the event stream: \(String(decoding: payload.prefix(200), as: UTF8.self))")
    }
    if let error = event.error {
      throw .midStream(error["message"]?.stringValue ?? error.stringValue ?? "an error event")
    }
    if let choice = event.choice {
      if firstToken == nil, !choice.piece.isEmpty { firstToken = now - started }
      text += choice.piece
      if let reason = choice.finishReason { finishReason = reason }
    }
    if let value = event.usage { usage = value }
    if let value = event.timings { timings = value }
    return nil
  }

  func end() throws(OllamaError) -> Completion {
    throw .midStream("the stream ended before data: [DONE]")
  }

  /// Errors found before generation come back as plain JSON, even for a streamed request.
  static func failure(status: Int, body: Data) -> OllamaError {
    .server(status: status, message: OpenAIClient.errorMessage(ByteBuffer(bytes: body)))
  }

  /// The answer with Ollama's timing fields filled: token counts from `usage`, durations from the
  /// server's `timings` where it sends them (llama.cpp), else measured here (prefill = time to the
  /// first token, decode = the rest).
  func completion(at now: ContinuousClock.Instant) -> Completion {
    var measured = ServerTimings()
    let wall = now - started
    measured.totalDuration = Int(wall.nanoseconds)
    measured.promptEvalCount = usage?["prompt_tokens"]?.intValue
    measured.evalCount = usage?["completion_tokens"]?.intValue
    if let timings, let promptMs = timings["prompt_ms"]?.doubleValue, let predictedMs = timings["predicted_ms"]?.doubleValue {
      // llama.cpp counts only the prompt tokens it evaluated (`prompt_n`, cached ones apart), as
      // Ollama does, so the prefill rate is the server's own.
      measured.promptEvalCount = timings["prompt_n"]?.intValue ?? measured.promptEvalCount
      measured.evalCount = measured.evalCount ?? timings["predicted_n"]?.intValue
      // The server's numbers: a nonsense one (1e300 ms) saturates instead of trapping.
      measured.promptEvalDuration = (promptMs * 1e6).rounded().saturatingInt
      measured.evalDuration = (predictedMs * 1e6).rounded().saturatingInt
      measured.source = .engine
    } else if let firstToken {
      measured.promptEvalDuration = Int(firstToken.nanoseconds)
      measured.evalDuration = Int((wall - firstToken).nanoseconds)
      measured.source = .client
    }
    return Completion(response: text, doneReason: finishReason, timings: measured, timeToFirstToken: firstToken)
  }
}

/// What the worker reads from one event of an OpenAI stream: the first choice's text and finish
/// reason, and `error`, `usage` and `timings`, which only the last chunks carry, whole.
struct OpenAIEvent {
  struct Choice {
    struct Delta {
      var content: String?
    }
    var delta: Delta?
    var text: String?
    var finishReason: String?

    /// `delta.content` (chat) or `text` (completions).
    var piece: String { delta?.content ?? text ?? "" }
  }

  var choice: Choice?
  /// Present (even as null) when the event reports an error.
  var error: JSONValue?
  /// Nil when absent or null.
  var usage: JSONValue?
  var timings: JSONValue?

  /// Reads an event with `FastJSON` (JSONDecoder where it declines); keys of other types than
  /// these mean nothing; nil when it is not JSON.
  static func decode(_ payload: Data) -> OpenAIEvent? {
    FastJSON.value(payload).map(OpenAIEvent.init)
  }

  init(_ event: JSONValue) {
    if let first = event["choices"]?.arrayValue?.first {
      var choice = Choice()
      choice.delta = first["delta"]?["content"]?.stringValue.map { Choice.Delta(content: $0) }
      choice.text = first["text"]?.stringValue
      choice.finishReason = first["finish_reason"]?.stringValue
      self.choice = choice
    }
    error = event["error"]
    usage = event["usage"].flatMap { $0 == .null ? nil : $0 }
    timings = event["timings"].flatMap { $0 == .null ? nil : $0 }
  }
}
