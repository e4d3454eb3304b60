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
  /// The answer when the body ended without a last line; nil makes that an error.
  func end() throws(OllamaError) -> Answer
  /// The error for a response that is not 200, from its body.
  static func failure(status: Int, body: ByteBuffer) -> OllamaError
}

/// One streamed request read where AsyncHTTPClient reads it, on the connection's event loop:
/// lines are cut and parsed as each part of the body arrives, and the caller's task wakes once,
/// for the answer. Iterating the async response body woke it for every part instead, some 17
/// context switches per 12-token answer, which were most of the worker's CPU per request.
final class StreamedExchange<Lines: StreamedLines>: HTTPClientResponseDelegate, @unchecked Sendable {
  typealias Response = Lines.Answer
  // Touched only on the task's event loop, where AsyncHTTPClient calls every method.
  private var lines: Lines
  private var splitter = LineSplitter()
  private var status: HTTPResponseStatus?
  private var failureBody = ByteBuffer()
  /// Set on the event loop before the task ends; read by the caller after it has ended.
  private(set) var answer: Lines.Answer?

  init(_ lines: Lines) {
    self.lines = lines
  }

  /// How long a body may go on after its last line before the exchange ends without it (a
  /// server that sends its last line and then holds the response open).
  static var bodyGrace: TimeAmount { .seconds(5) }

  /// Ends a task whose answer is complete though its body has not ended.
  struct AnswerBeforeEnd: Error {}

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
  /// whole exchange, body included, ends within `bound`, and cancelled with the calling task.
  func stream<Lines: StreamedLines>(_ request: Request, _ exchange: StreamedExchange<Lines>, within bound: TimeAmount) async throws -> Lines.Answer {
    let task = execute(request: request, delegate: exchange)
    let timer = task.eventLoop.scheduleTask(in: bound) { task.fail(reason: OllamaError.timedOut(bound)) }
    defer { timer.cancel() }
    do {
      return try await withTaskCancellationHandler { try await task.get() } onCancel: { task.cancel() }
    } catch is StreamedExchange<Lines>.AnswerBeforeEnd {
      // The task failed after the answer was set, on the event loop; get() saw that failure.
      guard let answer = exchange.answer else { throw OllamaError.midStream("the stream held its response open") }
      return answer
    }
  }
}
