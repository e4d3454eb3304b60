import AsyncHTTPClient
import CaravanCore
import Foundation
import NIOCore

/// What the worker needs from an inference server, whatever API it speaks. Supervision,
/// retries, resume, records and reports work through this alone.
public protocol InferenceEngine: Sendable {
  /// Where the server listens, for messages.
  var baseURL: String { get }
  /// One readiness probe: true once the server serves requests.
  func isReady() async -> Bool
  /// Makes a variant servable: Ollama creates its model from the Modelfile; an
  /// OpenAI-compatible server has nothing to create (its variants are request options).
  func register(_ variant: Variant) async throws(OllamaError)
  /// Loads `model` before any request, so no request pays for it; returns the server's own load
  /// time when it reports one. A model the server does not have fails here, once.
  func load(model: String) async throws(OllamaError) -> Duration?
  /// Sends one item, streamed, and returns its answer with timings and the time to first token.
  func complete(_ item: WorkItem) async throws(OllamaError) -> Completion
  /// Embeds several inputs in one request (`task: embed`): one vector per input, in order.
  func embed(model: String, inputs: [String], options: Options) async throws(OllamaError) -> Embeddings
}

/// The vectors of one embedding request.
public struct Embeddings: Sendable, Equatable {
  public var vectors: [[Float]]
  /// Input tokens of the whole request, when the server says.
  public var promptTokens: Int?
  /// The server's own time for the request and its model load (Ollama), nanoseconds.
  public var totalDuration: Int?
  public var loadDuration: Int?

  public init(vectors: [[Float]], promptTokens: Int? = nil, totalDuration: Int? = nil, loadDuration: Int? = nil) {
    self.vectors = vectors
    self.promptTokens = promptTokens
    self.totalDuration = totalDuration
    self.loadDuration = loadDuration
  }

  /// Reads a list of JSON number lists; nil when any element is not a finite number.
  static func vectors(_ lists: [JSONValue]) -> [[Float]]? {
    var vectors: [[Float]] = []
    vectors.reserveCapacity(lists.count)
    for list in lists {
      guard let numbers = list.arrayValue else { return nil }
      var vector: [Float] = []
      vector.reserveCapacity(numbers.count)
      for number in numbers {
        guard let value = number.doubleValue, value.isFinite else { return nil }
        vector.append(Float(value))
      }
      vectors.append(vector)
    }
    return vectors
  }

  /// Checks that there is one vector per input, all of one length.
  func checked(inputs: Int, from path: String) throws(OllamaError) -> Embeddings {
    guard vectors.count == inputs else { throw .decoding("\(path) answered \(vectors.count) vectors for \(inputs) inputs") }
    guard Set(vectors.map(\.count)).count <= 1 else { throw .decoding("\(path) answered vectors of different lengths") }
    return self
  }
}

/// The engine clients, by the spec's `engine.kind`.
public enum Engines {
  public static func client(_ kind: JobSpec.Engine.Kind, baseURL: String, requestTimeout: Duration) -> any InferenceEngine {
    switch kind {
    case .ollama, .sim: return OllamaClient(baseURL: baseURL, requestTimeout: requestTimeout)
    case .openai: return OpenAIClient(baseURL: baseURL, requestTimeout: requestTimeout)
    }
  }
}

/// The final answer to one request.
public struct Completion: Sendable, Equatable {
  public var response: String
  /// Why generation stopped: Ollama's `done_reason`, OpenAI's `finish_reason`.
  public var doneReason: String?
  public var timings: ServerTimings
  /// From sending the request to the first non-empty piece of text (streamed requests only).
  public var timeToFirstToken: Duration?

  public init(response: String = "", doneReason: String? = nil, timings: ServerTimings = ServerTimings(), timeToFirstToken: Duration? = nil) {
    self.response = response
    self.doneReason = doneReason
    self.timings = timings
    self.timeToFirstToken = timeToFirstToken
  }

  /// Reads a `/api/chat` (`message.content`) or `/api/generate` (`response`) final object.
  public init(ollama object: JSONValue) {
    self.init(
      response: object["message"]?["content"]?.stringValue ?? object["response"]?.stringValue ?? "",
      doneReason: object["done_reason"]?.stringValue,
      timings: ServerTimings(ollama: object))
  }
}

/// Runs `operation`, and cancels it if `bound` passes first. AsyncHTTPClient's own deadline
/// ends when the response head arrives, and a stream from a hung server may never end.
func bounded<T: Sendable>(_ bound: TimeAmount, _ operation: @escaping @Sendable () async throws(OllamaError) -> T) async throws(OllamaError) -> T {
  do {
    return try await withThrowingTaskGroup(of: T?.self) { group in
      group.addTask { try await operation() }
      group.addTask {
        try await Task.sleep(for: .nanoseconds(bound.nanoseconds))
        return nil
      }
      defer { group.cancelAll() }
      guard let value = try await group.next() ?? nil else { throw OllamaError.timedOut(bound) }
      return value
    }
  } catch let error as OllamaError {
    throw error
  } catch {
    throw .transport(String(describing: error))
  }
}

extension OllamaError {
  /// What a failed exchange means to the caller: an error of ours as it is, AsyncHTTPClient's
  /// deadline as a timeout, anything else (refused, reset, cut) as a transport failure.
  static func classify(_ error: any Error, timeout: TimeAmount) -> OllamaError {
    if let error = error as? OllamaError { return error }
    if let error = error as? HTTPClientError, error == .deadlineExceeded { return .timedOut(timeout) }
    return .transport(String(describing: error))
  }
}
