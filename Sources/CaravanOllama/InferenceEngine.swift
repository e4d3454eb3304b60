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
