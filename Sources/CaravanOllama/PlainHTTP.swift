import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Streamed requests to an `http://` server, sent and read on plain sockets by threads that
/// block in the kernel: a thread wakes when bytes arrive, cuts and parses the lines itself, and
/// resumes the calling task once, with the answer. Connections are kept and used again.
///
/// This is the worker's hot path. Through AsyncHTTPClient, every part of a streamed body went
/// through SwiftNIO's channel pipeline and HTTP parser and a hop between threads, and the
/// worker spent a third of a Python client's CPU per request; the requests a run sends are all
/// alike, and this path does only what they need. Other requests (readiness, `/api/create`,
/// embeddings) and `https://` servers still go through AsyncHTTPClient.
struct PlainHTTP: Sendable {
  /// The server's host (a name or an address, without brackets) and port.
  let host: String
  let port: Int
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
  /// end within `bound`, and it ends early when the calling task is cancelled.
  func stream<Lines: StreamedLines>(path: String, body: Data, accept: String? = nil, _ lines: Lines, within bound: TimeAmount) async throws(OllamaError) -> Lines.Answer {
    let exchange = PlainExchange(http: self, request: request(path: path, body: body, accept: accept), lines: lines, bound: bound)
    do {
      return try await withTaskCancellationHandler {
        try await withUnsafeThrowingContinuation { continuation in
          exchange.start(continuation)
        }
      } onCancel: {
        exchange.cancel()
      }
    } catch let error as OllamaError {
      throw error
    } catch {
      throw .transport(String(describing: error))
    }
  }
}

/// One request on its way: run on an `ExchangeThreads` thread, and cancelled from any thread.
final class PlainExchange<Lines: StreamedLines>: @unchecked Sendable {
  private let http: PlainHTTP
  private let request: [UInt8]
  private var lines: Lines
  private let bound: TimeAmount
  /// `cancelled` and `socket` (the connection in use, which `cancel` shuts down) are under `lock`.
  private let lock = NSLock()
  private var cancelled = false
  private var socket: Int32 = -1

  /// How long a body may go on after the answer's last line before its connection is dropped
  /// (a server that holds the response open would otherwise keep a thread reading).
  static var bodyGrace: Duration { .seconds(5) }

  init(http: PlainHTTP, request: [UInt8], lines: Lines, bound: TimeAmount) {
    (self.http, self.request, self.lines, self.bound) = (http, request, lines, bound)
  }

  func start(_ continuation: UnsafeContinuation<Lines.Answer, any Error>) {
    ExchangeThreads.shared.run { self.run(continuation) }
  }

  func cancel() {
    lock.withLock {
      cancelled = true
      if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
    }
  }

  /// Makes `connection` the one `cancel` shuts down; false when cancelled already.
  private func use(_ connection: PlainConnection?) -> Bool {
    lock.withLock {
      socket = connection?.fd ?? -1
      return !cancelled
    }
  }

  private func run(_ continuation: UnsafeContinuation<Lines.Answer, any Error>) {
    var resumed = false
    let outcome = Result { () throws(OllamaError) -> Lines.Answer in
      try attempt { answer in
        resumed = true
        continuation.resume(returning: answer)
      }
    }
    if !resumed { continuation.resume(with: outcome.mapError { lock.withLock { cancelled } ? OllamaError.transport("cancelled") : $0 }) }
  }

  /// Runs the exchange on a kept connection, or a new one. A kept connection that the server
  /// closed while it was idle fails before any byte of the response; the request is then sent
  /// once more, on a new connection.
  private func attempt(early: (Lines.Answer) -> Void) throws(OllamaError) -> Lines.Answer {
    let deadline = ContinuousClock.now + .nanoseconds(bound.nanoseconds)
    var kept = IdleConnections.shared.take(http.host, http.port)
    while true {
      let connection: PlainConnection
      if let kept { connection = kept } else { connection = try PlainConnection.open(host: http.host, port: http.port, deadline: deadline, expired: .timedOut(bound)) }
      guard use(connection) else { throw .transport("cancelled") }
      defer { _ = use(nil) }
      connection.begin(until: deadline, expired: .timedOut(bound))
      do {
        return try exchange(on: connection, deadline: deadline, early: early)
      } catch where kept != nil && connection.received == 0 && !lock.withLock({ cancelled }) {
        kept = nil
      }
    }
  }

  /// Sends the request and reads its response. The answer goes to `early` as soon as its last
  /// line has come (then the rest of the body is read, for up to `bodyGrace`, so the connection
  /// can be used again); an error status reads its body for the message.
  private func exchange(on connection: PlainConnection, deadline: ContinuousClock.Instant, early: (Lines.Answer) -> Void) throws(OllamaError) -> Lines.Answer {
    try connection.write(request)
    var response = try PlainResponse(reading: connection)
    guard response.status == 200 else {
      var body = Data()
      let ended = try response.read(from: connection) { bytes in
        if body.count < 1 << 20 { body.append(contentsOf: bytes) }
        return false
      }
      keep(connection, if: ended && !response.closes)
      throw Lines.failure(status: response.status, body: body)
    }
    var splitter = LineSplitter()
    var answer: Lines.Answer?
    _ = try response.read(from: connection) { bytes throws(OllamaError) in
      for line in splitter.append(bytes) {
        if let done = try lines.read(line, at: .now) {
          answer = done
          return true
        }
      }
      return false
    }
    // Without an answer, the body ended (it stops early only at one).
    guard let answer else { return try lines.end() }
    // The body's end (Ollama's last chunk) is most often here already.
    connection.blocking = false
    if (try? response.read(from: connection) { _ in false }) == true {
      keep(connection, if: !response.closes)
      return answer
    }
    guard connection.wouldBlock else { return answer }
    early(answer)
    connection.begin(until: min(deadline, .now + Self.bodyGrace), expired: .timedOut(bound))
    let drained = (try? response.read(from: connection) { _ in false }) ?? false
    keep(connection, if: drained && !response.closes)
    return answer
  }

  private func keep(_ connection: PlainConnection, if reusable: Bool) {
    if reusable && connection.isIdle { IdleConnections.shared.put(connection, http.host, http.port) }
  }
}

/// Connections to each server that are open and idle, newest last (the newest is taken first).
final class IdleConnections: @unchecked Sendable {
  static let shared = IdleConnections()
  /// More idle connections to one server than this are closed.
  static let limit = 256

  private let lock = NSLock()
  private var idle: [String: [PlainConnection]] = [:]

  func take(_ host: String, _ port: Int) -> PlainConnection? {
    lock.withLock { idle["\(host) \(port)"]?.popLast() }
  }

  func put(_ connection: PlainConnection, _ host: String, _ port: Int) {
    lock.withLock {
      let key = "\(host) \(port)"
      if idle[key, default: []].count < Self.limit { idle[key, default: []].append(connection) }
    }
  }
}

/// Threads for work that blocks in the kernel, made as needed (one per request in flight at
/// most) and kept: an idle one waits on a semaphore of its own, and the newest idle one takes
/// the next job.
final class ExchangeThreads: @unchecked Sendable {
  static let shared = ExchangeThreads()

  private final class Parked: @unchecked Sendable {
    let wake = DispatchSemaphore(value: 0)
    /// Set before `wake` is signalled, read after it is waited on.
    var job: (@Sendable () -> Void)?
  }

  private let lock = NSLock()
  private var idle: [Parked] = []

  func run(_ job: @escaping @Sendable () -> Void) {
    let parked = lock.withLock { idle.popLast() }
    if let parked {
      parked.job = job
      parked.wake.signal()
      return
    }
    let fresh = Parked()
    fresh.job = job
    let thread = Thread { [self] in loop(fresh) }
    thread.name = "caravan-exchange"
    thread.start()
  }

  private func loop(_ parked: Parked) {
    while true {
      if let job = parked.job {
        parked.job = nil
        job()
      }
      lock.withLock { idle.append(parked) }
      parked.wake.wait()
    }
  }
}
