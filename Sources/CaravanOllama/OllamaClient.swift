import AsyncHTTPClient
import CaravanCore
import Foundation
import NIOCore
import NIOHTTP1

/// A client for Ollama's native API (`/api/*`), which carries options and nanosecond timings.
public struct OllamaClient: InferenceEngine {
  public let baseURL: String
  let httpClient: HTTPClient
  /// Longest one request may take, generation included (`engine.request_timeout`).
  public var requestTimeout: TimeAmount
  /// Streamed requests go this way to an `http://` server (nil: through `httpClient`).
  var plain: PlainHTTP?

  /// `requestTimeout` is the run's `engine.request_timeout`; clients outside a run take its default.
  public init(baseURL: String, requestTimeout: Duration = .seconds(JobSpec.Engine().requestTimeout), http: HTTPClient = .ollama) {
    self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    self.requestTimeout = .nanoseconds(requestTimeout.nanoseconds)
    self.httpClient = http
    self.plain = PlainHTTP(baseURL: self.baseURL)
  }

  /// `GET /`: Ollama answers 200 "Ollama is running" once it serves requests.
  public func isRunning(timeout: TimeAmount = .seconds(2)) async -> Bool {
    do {
      let response = try await httpClient.execute(HTTPClientRequest(url: baseURL + "/"), timeout: timeout)
      let body = try await response.body.collect(upTo: 1 << 16)
      return response.status == .ok && String(buffer: body).contains("Ollama is running")
    } catch {
      return false
    }
  }

  public func isReady() async -> Bool { await isRunning() }

  /// A Modelfile variant becomes a server-side model through `/api/create`; a server that
  /// restarted gets it again (creating an existing model is harmless).
  public func register(_ variant: Variant) async throws(OllamaError) {
    guard let body = variant.create else { return }
    try await create(body)
  }

  /// Loads `model` and returns Ollama's own load time (or nil when it reports none).
  public func load(model: String) async throws(OllamaError) -> Duration? {
    let answer: Completion = try await load(model: model)
    return answer.timings.loadDuration.map { .nanoseconds($0) }
  }

  /// `POST /api/embed` with every input at once: `{"embeddings": [[...], ...]}` in input order,
  /// with `total_duration`, `load_duration` and `prompt_eval_count`.
  public func embed(model: String, inputs: [String], options: Options) async throws(OllamaError) -> Embeddings {
    var body: [String: JSONValue] = ["model": .string(model), "input": .array(inputs.map(JSONValue.string))]
    if !options.isEmpty { body["options"] = .object(options) }
    let object = try await call("POST", "/api/embed", body: .object(body))
    guard let lists = object["embeddings"]?.arrayValue, let vectors = Embeddings.vectors(lists) else {
      throw .decoding("/api/embed answered no list of number lists under \"embeddings\"")
    }
    return try Embeddings(
      vectors: vectors, promptTokens: object["prompt_eval_count"]?.intValue, totalDuration: object["total_duration"]?.intValue,
      loadDuration: object["load_duration"]?.intValue
    ).checked(inputs: inputs.count, from: "/api/embed")
  }

  /// `GET /api/version`.
  public func version() async throws(OllamaError) -> String {
    let object = try await call("GET", "/api/version", body: nil)
    return object["version"]?.stringValue ?? "unknown"
  }

  /// `POST /api/create` in its current form (`model`, `from`, `parameters`, ...), not streamed.
  public func create(_ body: JSONValue) async throws(OllamaError) {
    let object = try await call("POST", "/api/create", body: body)
    if let status = object["status"]?.stringValue, status != "success" {
      throw .server(status: 200, message: "create ended with status '\(status)'")
    }
  }

  /// Loads `model` without generating (`/api/generate` with no prompt), so its load time is
  /// measured apart from any request; Ollama answers once the model is in memory. A large
  /// model's load may take far longer than any request, so it has a bound of its own (1 h).
  public func load(model: String, timeout: TimeAmount = .seconds(3600)) async throws(OllamaError) -> Completion {
    Completion(ollama: try await call("POST", "/api/generate", body: .object(["model": .string(model), "stream": .bool(false)]), timeout: timeout))
  }

  /// Sends one work item to `/api/chat` (messages) or `/api/generate` (prompt), streamed, so a
  /// long generation shows progress and the time to the first token is measured. A failure in
  /// the middle of the stream (HTTP 200, then an `{"error": ...}` line) throws `.midStream`.
  /// The whole exchange, stream included, must end within `requestTimeout`. The answer is given
  /// at its `done` line (a server may end the body later).
  public func complete(_ item: WorkItem) async throws(OllamaError) -> Completion {
    let (path, body) = Self.requestBody(item, stream: true)
    let data: Data
    do { data = try JSONFormats.data(body) } catch { throw .decoding("could not encode the request: \(error)") }
    let lines = OllamaLines(path: path, started: .now)
    if let plain { return try await plain.stream(path: path, body: data, lines, within: requestTimeout) }
    return try await httpClient.stream(url: baseURL + path, body: data, lines, within: requestTimeout)
  }

  /// The endpoint and body for an item: `/api/generate` for a prompt, `/api/chat` for messages.
  static func requestBody(_ item: WorkItem, stream: Bool) -> (String, JSONValue) {
    var body: [String: JSONValue] = ["model": .string(item.model), "stream": .bool(stream)]
    if !item.options.isEmpty { body["options"] = .object(item.options) }
    // Ollama's structured outputs: "json", or a JSON schema the answer is constrained to.
    if let format = item.format { body["format"] = format }
    let path: String
    switch item.input {
    case .prompt(let prompt):
      path = "/api/generate"
      body["prompt"] = .string(prompt)
    case .messages(let messages):
      path = "/api/chat"
      body["messages"] = .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
    }
    return (path, .object(body))
  }

  /// One request/response round trip; Ollama's `{"error": ...}` bodies become `OllamaError.server`.
  func call(_ method: String, _ path: String, body: JSONValue?, timeout: TimeAmount? = nil) async throws(OllamaError) -> JSONValue {
    var request = HTTPClientRequest(url: baseURL + path)
    request.method = HTTPMethod(rawValue: method)
    if let body {
      let data: Data
      do { data = try JSONFormats.data(body) } catch { throw .decoding("could not encode the request: \(error)") }
      request.headers.add(name: "Content-Type", value: "application/json")
      request.body = .bytes(ByteBuffer(bytes: data))
    }
    let status: Int
    let bytes: ByteBuffer
    do {
      let response = try await httpClient.execute(request, timeout: timeout ?? requestTimeout)
      status = Int(response.status.code)
      bytes = try await response.body.collect(upTo: 64 << 20)
    } catch let error as HTTPClientError where error == .deadlineExceeded {
      throw .timedOut(timeout ?? requestTimeout)
    } catch {
      throw .transport(String(describing: error))
    }
    let text = String(buffer: bytes)
    let object = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    if let message = object?["error"]?.stringValue { throw .server(status: status, message: message) }
    guard (200..<300).contains(status) else {
      throw .server(status: status, message: text.isEmpty ? "HTTP \(status)" : String(text.prefix(500)))
    }
    guard let object else { throw .decoding("not JSON from \(path): \(text.prefix(200))") }
    return object
  }
}

/// Ollama's NDJSON stream: pieces of text, then a line with `done: true` and the timings.
struct OllamaLines: StreamedLines {
  let path: String
  let started: ContinuousClock.Instant
  var text = ""
  var firstToken: Duration?

  init(path: String, started: ContinuousClock.Instant) {
    (self.path, self.started) = (path, started)
  }

  mutating func read(_ line: Data, at now: ContinuousClock.Instant) throws(OllamaError) -> Completion? {
    guard let object = OllamaStreamLine.object(line) else {
      throw .decoding("not JSON in the \(path) stream: \(String(decoding: line.prefix(200), as: UTF8.self))")
    }
    let parsed = OllamaStreamLine(object)
    if let message = parsed.error { throw .midStream(message) }
    let piece = parsed.piece
    if firstToken == nil, !piece.isEmpty { firstToken = now - started }
    text += piece
    guard parsed.done == true else { return nil }
    var completion = Completion(ollama: object)
    completion.response = text
    completion.timeToFirstToken = firstToken
    return completion
  }

  func end() throws(OllamaError) -> Completion {
    throw .midStream("the stream ended before its final (done) line")
  }

  static func failure(status: Int, body: Data) -> OllamaError {
    let message = (try? JSONDecoder().decode(JSONValue.self, from: body))?["error"]?.stringValue
    return .server(status: status, message: message ?? String(decoding: body, as: UTF8.self))
  }
}

/// What the worker reads from one line of an Ollama stream. A line is read with `FastJSON`
/// (JSONDecoder, into a JSONValue or even into a struct of these four keys, was a fifth to a
/// third of the worker's CPU against a fast server); the final line's timings come from the
/// same object.
struct OllamaStreamLine: Equatable {
  /// `message.content` (chat).
  var content: String?
  /// `response` (generate).
  var response: String?
  var done: Bool?
  var error: String?

  /// The text this line adds.
  var piece: String { content ?? response ?? "" }

  /// A stream line as a JSON value; nil when it is not JSON.
  static func object(_ line: Data) -> JSONValue? {
    FastJSON.value(line)
  }

  /// Reads a line: keys of other types than these (an `error` object, say) mean nothing; nil
  /// when it is not JSON.
  static func decode(_ line: Data) -> OllamaStreamLine? {
    object(line).map(OllamaStreamLine.init)
  }

  init(_ object: JSONValue) {
    content = object["message"]?["content"]?.stringValue
    response = object["response"]?.stringValue
    done = object["done"]?.boolValue
    error = object["error"]?.stringValue
  }
}

/// What can go wrong talking to Ollama, split by what the caller should do about it.
public enum OllamaError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Connection refused or reset: the server may come back.
  case transport(String)
  /// No complete answer within the request's time bound: a hung server, or one far too slow.
  case timedOut(TimeAmount)
  /// An HTTP error with Ollama's message.
  case server(status: Int, message: String)
  /// A response that is not the documented shape.
  case decoding(String)
  /// An `{"error": ...}` line inside a 200 stream, or a stream cut before its final line.
  case midStream(String)

  /// Worth another try: transport failures, 429 (rate limited), 503 (queue full) and other 5xx.
  public var isRetryable: Bool {
    switch self {
    case .transport, .timedOut, .midStream: return true
    case .server(let status, _): return status >= 500 || status == 429
    case .decoding: return false
    }
  }

  /// 404 `model "x" not found`: no retry helps, and every other request will fail the same way.
  public var isMissingModel: Bool {
    if case .server(404, let message) = self { return message.contains("not found") }
    return false
  }

  public var description: String {
    switch self {
    case .transport(let message): return "cannot reach the server: \(message)"
    case .timedOut(let bound): return "no complete answer within \(bound.nanoseconds / 1_000_000_000) s"
    case .server(let status, let message): return "HTTP \(status): \(message)"
    case .decoding(let message): return message
    case .midStream(let message): return "failed mid-stream: \(message)"
    }
  }
}

extension HTTPClient {
  /// The client an `OllamaClient` uses unless given another. `HTTPClient.shared` has a web
  /// browser's settings, wrong for a server on this node: it retries a refused connection for up
  /// to 90 s (a dead server is the worker's to restart, and a request to it should fail at once)
  /// and gives up on a response that sends nothing for 90 s (a large model's load does). Here a
  /// refused connection fails the request, and only `OllamaClient.requestTimeout` bounds it.
  public static let ollama: HTTPClient = {
    var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
  }()
}
