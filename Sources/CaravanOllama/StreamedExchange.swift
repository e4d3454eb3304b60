import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What a streamed answer's lines build: one line in, and the answer once its last line came.
/// Throwing ends the exchange with that error (a mid-stream error line, a line that is not JSON).
protocol StreamedLines: Sendable {
  associatedtype Answer: Sendable
  /// Reads one line, which arrived at `now`.
  mutating func read(_ line: Data, at now: ContinuousClock.Instant) throws(OllamaError) -> Answer?
  /// What a body that ended before its last line gives: an error, for Ollama's stream.
  func end() throws(OllamaError) -> Answer
  /// The error for a response that is not 200, from its body.
  static func failure(status: Int, body: ByteBuffer) -> OllamaError
}

/// One streamed request read where AsyncHTTPClient reads it, on the connection's event loop:
/// lines are cut and parsed as each part of the body arrives, and the caller's task wakes once,
/// when the answer's last line has come (not when the body ends: a server may take a moment to
/// end it, and the slot should be refilled at once). Iterating the async response body woke the
/// task for every part instead.
final class StreamedExchange<Lines: StreamedLines>: HTTPClientResponseDelegate, @unchecked Sendable {
  typealias Response = Lines.Answer
  // Touched only on the task's event loop, where AsyncHTTPClient calls every method.
  private var lines: Lines
  private var splitter = LineSplitter()
  private var status: HTTPResponseStatus?
  private var failureBody = ByteBuffer()
  private var answer: Lines.Answer?
  /// The caller's wait and the outcome, whichever comes first (under `lock`); the second
  /// resumes the caller.
  private let lock = NSLock()
  private var waiter: CheckedContinuation<Lines.Answer, any Error>?
  private var result: Result<Lines.Answer, any Error>?

  init(_ lines: Lines) {
    self.lines = lines
  }

  /// How long a body may go on after its last line before the exchange is ended (a server that
  /// sends its last line and then holds the response open would otherwise hold a connection).
  static var bodyGrace: TimeAmount { .seconds(5) }

  /// Ends a task whose answer was given though its body had not ended.
  struct AnswerBeforeEnd: Error {}

  /// Gives the caller its answer or error, once.
  fileprivate func deliver(_ outcome: Result<Lines.Answer, any Error>) {
    let waiting: CheckedContinuation<Lines.Answer, any Error>? = lock.withLock {
      guard result == nil else { return nil }
      result = outcome
      defer { waiter = nil }
      return waiter
    }
    waiting?.resume(with: outcome)
  }

  /// Waits for `deliver`.
  fileprivate func wait() async throws -> Lines.Answer {
    try await withCheckedThrowingContinuation { continuation in
      let delivered: Result<Lines.Answer, any Error>? = lock.withLock {
        if result == nil { waiter = continuation }
        return result
      }
      if let delivered { continuation.resume(with: delivered) }
    }
  }

  func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
    status = head.status
    return task.eventLoop.makeSucceededVoidFuture()
  }

  func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
    guard status == .ok else {
      // An error's body, kept up to 1 MiB for its message.
      var part = buffer
      if failureBody.readableBytes < 1 << 20 { failureBody.writeBuffer(&part) }
      return task.eventLoop.makeSucceededVoidFuture()
    }
    guard answer == nil else { return task.eventLoop.makeSucceededVoidFuture() }
    do {
      for line in splitter.append(buffer) {
        if let done = try lines.read(line, at: .now) {
          answer = done
          deliver(.success(done))
          task.eventLoop.scheduleTask(in: Self.bodyGrace) { task.fail(reason: AnswerBeforeEnd()) }
          break
        }
      }
      return task.eventLoop.makeSucceededVoidFuture()
    } catch {
      return task.eventLoop.makeFailedFuture(error)
    }
  }

  func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
    guard let status, status == .ok else { throw Lines.failure(status: Int(status?.code ?? 0), body: failureBody) }
    return try answer ?? lines.end()
  }
}

extension HTTPClient {
  /// Runs `request`, its response read by `exchange`, failed with `.timedOut(bound)` unless the
  /// answer comes within `bound`, and cancelled with the calling task.
  func stream<Lines: StreamedLines>(_ request: Request, _ exchange: StreamedExchange<Lines>, within bound: TimeAmount) async throws -> Lines.Answer {
    let task = execute(request: request, delegate: exchange)
    let timer = task.eventLoop.scheduleTask(in: bound) { task.fail(reason: OllamaError.timedOut(bound)) }
    task.futureResult.whenComplete { result in
      timer.cancel()
      exchange.deliver(result)
    }
    return try await withTaskCancellationHandler { try await exchange.wait() } onCancel: { task.cancel() }
  }
}
