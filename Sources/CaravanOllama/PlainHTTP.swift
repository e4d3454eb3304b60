import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Streamed requests to an `http://` server over plain HTTP/1.1 sockets: `PlainLoop`'s thread
/// sends the request, reads the answer as its bytes come, cuts and parses the lines itself, and
/// resumes the calling task once, with the answer. Connections are kept and used again.
///
/// This is the worker's hot path. Through AsyncHTTPClient, every part of a streamed body went
/// through SwiftNIO's channel pipeline and HTTP parser and hops between threads, and the worker
/// spent a third of a Python client's CPU per request; the requests a run sends are all alike,
/// and this path does only what they need. Other requests (readiness, `/api/create`,
/// embeddings) and `https://` servers still go through AsyncHTTPClient.
struct PlainHTTP: Sendable {
  /// The server's host (a name or an address, without brackets) and port.
  let host: String
  let port: Int
  /// "host port": where its idle connections wait.
  let server: String
  /// `Host:` as the request says it, and the base URL's path, which every request path follows.
  let hostHeader: String
  let pathPrefix: String

  /// Nil for a URL this path does not serve (`https://`, user info, a query): AsyncHTTPClient does.
  init?(baseURL: String) {
    guard let parts = URLComponents(string: baseURL), parts.scheme?.lowercased() == "http",
      var host = parts.host, !host.isEmpty, parts.user == nil, parts.password == nil, parts.query == nil, parts.fragment == nil
    else { return nil }
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    let port = parts.port ?? 80
    guard (1...65535).contains(port) else { return nil }
    self.host = host
    self.port = port
    server = "\(host) \(port)"
    let named = host.contains(":") ? "[\(host)]" : host
    hostHeader = parts.port == nil ? named : "\(named):\(port)"
    let path = parts.percentEncodedPath
    pathPrefix = path.hasSuffix("/") ? String(path.dropLast()) : path
  }

  /// The request's bytes: a POST of `body` (JSON) to `path`.
  func request(path: String, body: Data, accept: String?) -> [UInt8] {
    var head = "POST \(pathPrefix)\(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nContent-Type: application/json\r\n"
    if let accept { head += "Accept: \(accept)\r\n" }
    head += "Content-Length: \(body.count)\r\n\r\n"
    var bytes = Array(head.utf8)
    bytes.append(contentsOf: body)
    return bytes
  }

  /// POSTs `body` to `path` and reads the streamed answer with `lines`; the whole exchange must
  /// end within `bound`, and it ends early when the calling task is cancelled. A kept
  /// connection that its server had closed is replaced once.
  func stream<Lines: StreamedLines>(path: String, body: Data, accept: String? = nil, _ lines: Lines, within bound: TimeAmount) async throws(OllamaError) -> Lines.Answer {
    let request = request(path: path, body: body, accept: accept)
    let deadline = ContinuousClock.now + .nanoseconds(bound.nanoseconds)
    var mayReuse = true
    while true {
      let exchange = PlainExchange(request: request, lines: lines, bound: bound, deadline: deadline)
      do {
        return try await withTaskCancellationHandler {
          try await withUnsafeThrowingContinuation { continuation in
            exchange.start(continuation, on: self, mayReuse: mayReuse)
          }
        } onCancel: {
          exchange.cancel()
        }
      } catch is PlainExchange<Lines>.Stale {
        // A kept connection its server had closed: once more, on a new one.
        mayReuse = false
      } catch let error as OllamaError {
        throw error
      } catch {
        throw .transport(String(describing: error))
      }
    }
  }
}

/// One request on its way: given a connection by its caller, sent and read by `PlainLoop`'s
/// thread, answered once.
final class PlainExchange<Lines: StreamedLines>: LoopExchange, @unchecked Sendable {
  /// A kept connection failed before any byte of the response came: the server had closed it.
  struct Stale: Error {}

  private let request: [UInt8]
  private let bound: TimeAmount
  private let requestDeadline: ContinuousClock.Instant
  /// When the loop ends it: the request's deadline, while connecting 10 s at most, and after the
  /// answer the end of `bodyGrace`.
  private(set) var deadline: ContinuousClock.Instant
  /// The rest is set by `start` before the loop sees the exchange, and after that on the
  /// loop's thread only.
  private var lines: Lines
  private var splitter = LineSplitter()
  private var response: PlainResponse?
  private var failureBody: Data?
  private var answered = false
  /// The connection in use: kept from an earlier request, or new.
  private var connection: PlainConnection?
  private var kept = false
  /// A new connection's connect has not finished; the addresses to try, and why the last failed.
  private var connecting = false
  private var http: PlainHTTP?
  private var addresses: [PlainConnection.Address] = []
  private var nextAddress = 0
  private var connectFailure = "no address"
  /// How much of the request is sent (the loop sends the rest of one that did not fit).
  private var written = 0
  /// Under `lock`: the caller's wait, and whether it was cancelled.
  private let lock = NSLock()
  private var continuation: UnsafeContinuation<Lines.Answer, any Error>?
  private var cancelled = false

  /// How long a body may go on after the answer's last line before its connection is closed
  /// (a server that holds the response open would otherwise hold the connection).
  static var bodyGrace: Duration { .seconds(5) }

  /// The longest a connect may take (a server on this node takes or refuses one at once).
  static var connectBound: Duration { .seconds(10) }

  init(request: [UInt8], lines: Lines, bound: TimeAmount, deadline: ContinuousClock.Instant) {
    (self.request, self.lines, self.bound, self.requestDeadline, self.deadline) = (request, lines, bound, deadline, deadline)
  }

  /// Takes a kept connection, or connects a new one, for the loop. On the loop's own thread
  /// (the worker's requests run there) the request is sent at once; from any other thread the
  /// loop sends it, so that only the loop's thread touches the exchange once it is attached.
  func start(_ continuation: UnsafeContinuation<Lines.Answer, any Error>, on http: PlainHTTP, mayReuse: Bool) {
    guard !isCancelled(setting: continuation) else { return finish(.failure(OllamaError.transport("cancelled"))) }
    self.http = http
    let onLoop = PlainLoop.shared.isCurrent
    if mayReuse, let idle = PlainLoop.shared.attachIdle(self, server: http.server, writable: !onLoop) {
      return attached(idle, sendNow: onLoop)
    }
    do {
      addresses = try PlainConnection.addresses(host: http.host, port: http.port)
    } catch {
      return finish(.failure(error))
    }
    connectNext(onLoop: onLoop)
  }

  private func isCancelled(setting continuation: UnsafeContinuation<Lines.Answer, any Error>? = nil) -> Bool {
    lock.withLock {
      if let continuation { self.continuation = continuation }
      return cancelled
    }
  }

  /// The exchange has its connection: a cancel that came while it had none shuts it down now.
  private func attached(_ connection: PlainConnection, sendNow: Bool) {
    if isCancelled() { PlainLoop.shared.shutDown(self) }
    if sendNow { send(connection) }
  }

  func adopt(_ connection: PlainConnection, kept: Bool) {
    self.connection = connection
    self.kept = kept
  }

  /// Connects to the next address; after the last, fails.
  private func connectNext(onLoop: Bool) {
    guard let http else { return }
    guard !isCancelled() else { return finish(.failure(OllamaError.transport("cancelled"))) }
    while nextAddress < addresses.count {
      let address = addresses[nextAddress]
      nextAddress += 1
      do {
        let (opened, connected) = try PlainConnection.connect(to: address, server: http.server)
        connecting = !connected
        deadline = connected ? requestDeadline : min(requestDeadline, .now + Self.connectBound)
        PlainLoop.shared.attach(self, opened, writable: !connected || !onLoop)
        attached(opened, sendNow: connected && onLoop)
        return
      } catch {
        if case .transport(let message) = error { connectFailure = message }
      }
    }
    PlainConnection.forget(host: http.host, port: http.port)
    finish(.failure(OllamaError.transport("cannot connect to \(http.host):\(http.port): \(connectFailure)")))
  }

  /// Sends what it can of the request (on the loop's thread); the loop sends the rest when
  /// the socket takes more.
  private func send(_ connection: PlainConnection) {
    do {
      written = try connection.send(request, from: written)
      if written < request.count { PlainLoop.shared.wantsToWrite(connection, for: self, true) }
    } catch {
      PlainLoop.shared.drop(connection)
      finish(.failure(failure(error, on: connection)))
    }
  }

  /// The error a failure ends with: on a kept connection before any byte of the answer, `Stale`
  /// (the server had closed it, and the request goes again on a new one).
  private func failure(_ error: OllamaError, on connection: PlainConnection) -> any Error {
    kept && connection.received == 0 ? Stale() : error
  }

  /// What becomes of the connection at the end of an exchange: kept only when the whole request
  /// went out and the whole response came in, and the server keeps it open.
  private func after(ended: Bool) -> PlainLoop.After {
    ended && response?.closes == false && written == request.count ? .keep : .close
  }

  func cancel() {
    lock.withLock { cancelled = true }
    PlainLoop.shared.shutDown(self)
  }

  /// Gives the caller its answer or error, once.
  private func finish(_ outcome: Result<Lines.Answer, any Error>) {
    let (waiting, wasCancelled) = lock.withLock {
      defer { continuation = nil }
      return (continuation, cancelled)
    }
    guard let waiting else { return }
    if wasCancelled, case .failure = outcome { return waiting.resume(throwing: OllamaError.transport("cancelled")) }
    waiting.resume(with: outcome)
  }

  func expire() {
    if connecting, deadline < requestDeadline, let http {
      finish(.failure(OllamaError.transport("cannot connect to \(http.host):\(http.port): Connection timed out")))
    } else {
      finish(.failure(OllamaError.timedOut(bound)))
    }
  }

  func writable(_ connection: PlainConnection) -> PlainLoop.After? {
    guard connection === self.connection else { return nil }
    if connecting {
      switch connection.connectState {
      case .pending:
        // A cancel shut the socket down mid-connect: it will never connect.
        guard isCancelled() else { return nil }
        finish(.failure(OllamaError.transport("cancelled")))
        return .close
      case .failed(let failure):
        PlainLoop.shared.drop(connection)
        connectFailure = failure
        connectNext(onLoop: true)
        // This connection is done with, whether another took its place or the exchange failed.
        return .close
      case .connected:
        connecting = false
      }
      deadline = requestDeadline
    }
    guard written < request.count else {
      PlainLoop.shared.wantsToWrite(connection, for: self, false)
      return nil
    }
    do {
      written = try connection.send(request, from: written)
      if written == request.count { PlainLoop.shared.wantsToWrite(connection, for: self, false) }
      return nil
    } catch {
      finish(.failure(failure(error, on: connection)))
      return .close
    }
  }

  func readable(_ connection: PlainConnection) -> PlainLoop.After? {
    guard connection === self.connection else { return nil }
    // A connect that failed reports a hang-up: it is the writable event's to read.
    if connecting { return writable(connection) }
    connection.resume()
    do {
      if response == nil {
        let head = try PlainResponse.head(from: connection)
        response = head
        if head.status != 200 { failureBody = Data() }
      }
      if failureBody != nil {
        // An error's body, kept up to 1 MiB for its message.
        let ended = try response!.read(from: connection) { bytes in
          if failureBody!.count < 1 << 20 { failureBody!.append(contentsOf: bytes) }
          return false
        }
        finish(.failure(Lines.failure(status: response!.status, body: failureBody!)))
        return after(ended: ended)
      }
      if !answered {
        var answer: Lines.Answer?
        let ended = try response!.read(from: connection) { bytes throws(OllamaError) in
          for line in splitter.append(bytes) {
            if let done = try lines.read(line, at: .now) {
              answer = done
              return true
            }
          }
          guard splitter.pendingCount <= LineSplitter.lineLimit else { throw .decoding("a line of the stream runs past \(LineSplitter.lineLimit >> 20) MiB") }
          return false
        }
        // A last line without a newline still counts.
        if answer == nil, ended, let last = splitter.rest() { answer = try lines.read(last, at: .now) }
        guard let answer else {
          // The body ended before the answer's last line.
          finish(Result { () throws(OllamaError) in try lines.end() }.mapError { $0 })
          return after(ended: ended)
        }
        answered = true
        finish(.success(answer))
        deadline = min(deadline, .now + Self.bodyGrace)
      }
      // The rest of the body (most often just its end), so the connection can carry another request.
      let ended = try response!.read(from: connection) { _ in false }
      return after(ended: ended)
    } catch where connection.wouldBlock {
      return nil
    } catch {
      finish(.failure(failure(error, on: connection)))
      return .close
    }
  }
}
