import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanOllama

/// The worker's streamed requests go over plain sockets (`PlainHTTP`, read by `PlainLoop`).
/// These are the ends of HTTP/1.1 that a well-behaved server never shows, from a raw socket
/// server that answers each connection as a test tells it.
@Suite struct PlainHTTPTests {
  /// An HTTP server on 127.0.0.1 that runs `answer` on a thread for each connection it
  /// accepts (with the connection's number, from 0), and closes the connection after it.
  final class ScriptedServer: @unchecked Sendable {
    let port: Int
    private let socket: Int32
    private let lock = NSLock()
    private var count = 0

    /// Connections accepted so far.
    var accepted: Int { lock.withLock { count } }

    init(_ answer: @escaping @Sendable (_ connection: Int32, _ number: Int) -> Void) throws {
      let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
      }
      socket = listener
      // A deep backlog: connects beyond it are retried by TCP after seconds, which a loaded
      // machine's slow accepts would turn into timeouts.
      guard bound, listen(listener, 1024) == 0 else { throw POSIXError(.EADDRINUSE) }
      port = Int(UInt16(bigEndian: address.sin_port))
      Thread { [self] in
        while true {
          let connection = accept(listener, nil, nil)
          guard connection >= 0 else { return }
          let number = lock.withLock {
            defer { count += 1 }
            return count
          }
          Thread {
            answer(connection, number)
            close(connection)
          }.start()
        }
      }.start()
    }

    deinit { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }

    /// Reads one request (head, and a body as long as its Content-Length); nil when the
    /// connection ends first.
    static func readRequest(_ connection: Int32) -> (head: String, body: [UInt8])? {
      var bytes: [UInt8] = []
      var chunk = [UInt8](repeating: 0, count: 1 << 16)
      func headEnd() -> Int? {
        guard bytes.count >= 4 else { return nil }
        return (0...(bytes.count - 4)).first { bytes[$0..<($0 + 4)].elementsEqual("\r\n\r\n".utf8) }
      }
      while headEnd() == nil {
        let count = read(connection, &chunk, chunk.count)
        guard count > 0 else { return nil }
        bytes += chunk[0..<count]
      }
      let end = headEnd()! + 4
      let head = String(decoding: bytes[0..<end], as: UTF8.self)
      let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
      while bytes.count < end + length {
        let count = read(connection, &chunk, chunk.count)
        guard count > 0 else { return nil }
        bytes += chunk[0..<count]
      }
      return (head, Array(bytes[end..<(end + length)]))
    }

    /// Writes `text` (without SIGPIPE when the client has gone).
    static func write(_ connection: Int32, _ text: String) {
      _ = Array(text.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
  }

  static func chunk(_ text: String) -> String { String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n" }

  static let okHead = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
  static let answer = chunk(#"{"response":"Hel","done":false}"# + "\n") + chunk(#"{"response":"lo","done":true,"eval_count":2}"# + "\n") + "0\r\n\r\n"

  let item = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "m", input: .prompt("hi"), options: [:])

  func client(_ server: ScriptedServer, timeout: Duration = .seconds(30)) -> OllamaClient {
    OllamaClient(baseURL: "http://127.0.0.1:\(server.port)", requestTimeout: timeout)
  }

  /// A server that sends its last line and then holds the response open: the answer is given
  /// at its last line. (Had it waited for the body, the 5 s grace would have ended the exchange
  /// with an error, and the request timeout is later still: success alone shows it.)
  @Test func anAnswerIsGivenAtItsLastLineThoughTheBodyNeverEnds() async throws {
    let server = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, Self.okHead + Self.chunk(#"{"response":"Hel","done":false}"# + "\n") + Self.chunk(#"{"response":"lo","done":true,"eval_count":2}"# + "\n"))
      Thread.sleep(forTimeInterval: 60)
    }
    let completion = try await client(server, timeout: .seconds(50)).complete(item)
    #expect(completion.response == "Hello" && completion.timings.evalCount == 2)
  }

  /// A stream that stops sending without ending is bounded by the request timeout.
  @Test func aStreamThatStallsTimesOut() async throws {
    let server = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, Self.okHead + Self.chunk(#"{"response":"Hel","done":false}"# + "\n"))
      Thread.sleep(forTimeInterval: 30)
    }
    await #expect(throws: OllamaError.timedOut(.seconds(2))) { try await client(server, timeout: .seconds(2)).complete(item) }
  }

  /// An error status keeps its body's message; a body that ends early is a mid-stream failure.
  @Test func errorsKeepTheirMeaning() async throws {
    let message = #"{"error":"model 'm' not found"}"#
    let refused = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: \(message.utf8.count)\r\nConnection: close\r\n\r\n" + message)
    }
    await #expect(throws: OllamaError.server(status: 404, message: "model 'm' not found")) { try await client(refused).complete(item) }

    let cut = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, Self.okHead + Self.chunk(#"{"response":"Hel","done":false}"# + "\n") + "0\r\n\r\n")
    }
    await #expect(throws: OllamaError.midStream("the stream ended before its final (done) line")) { try await client(cut).complete(item) }

    let closed = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, Self.okHead + Self.chunk(#"{"response":"Hel","done":false}"# + "\n"))
    }
    await #expect(throws: OllamaError.transport("the connection closed in the middle of the response")) { try await client(closed).complete(item) }
  }

  /// Every framing HTTP/1.1 allows reads the same answer, however the bytes are cut: an interim
  /// 100 response first, header names in any case, chunk extensions and trailers, a length, or
  /// (HTTP/1.0) the end of the connection; here written one byte at a time.
  @Test func everyFramingGivesTheSameAnswerByteByByte() async throws {
    let first = #"{"response":"Hel","done":false}"# + "\n"
    let last = #"{"response":"lo","done":true,"eval_count":2}"# + "\n"
    let lines = first + last
    let responses = [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-ENCODING: chunked\r\n\r\n"
        + String(first.utf8.count, radix: 16) + ";name=value\r\n" + first + "\r\n"
        + String(last.utf8.count, radix: 16).uppercased() + " \r\n" + last + "\r\n"
        + "0\r\nX-Trailer: yes\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: \(lines.utf8.count)\r\n\r\n" + lines,
      "HTTP/1.0 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n" + lines,
    ]
    for response in responses {
      let server = try ScriptedServer { connection, _ in
        _ = ScriptedServer.readRequest(connection)
        for byte in response.utf8 {
          _ = withUnsafeBytes(of: byte) { send(connection, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
          usleep(200)
        }
      }
      let completion = try await client(server).complete(item)
      #expect(completion.response == "Hello" && completion.timings.evalCount == 2, "\(response.prefix(40))")
    }
  }

  /// A connection carries one request after another; one the server closes while it is idle is
  /// replaced, and one it closes as a request arrives is tried once more on a new connection.
  @Test func connectionsAreKeptAndAStaleOneIsReplaced() async throws {
    let kept = try ScriptedServer { connection, _ in
      while ScriptedServer.readRequest(connection) != nil { ScriptedServer.write(connection, Self.okHead + Self.answer) }
    }
    let keeping = client(kept)
    for _ in 0..<5 { #expect(try await keeping.complete(item).response == "Hello") }
    #expect(kept.accepted == 1)

    // The first connection answers once, then reads the next request and closes without a word.
    let stale = try ScriptedServer { connection, number in
      guard ScriptedServer.readRequest(connection) != nil else { return }
      ScriptedServer.write(connection, Self.okHead + Self.answer)
      if number == 0 { _ = ScriptedServer.readRequest(connection) }
    }
    let retrying = client(stale)
    #expect(try await retrying.complete(item).response == "Hello")
    #expect(try await retrying.complete(item).response == "Hello")
    #expect(stale.accepted == 2)
  }

  /// A request far larger than a socket's buffer is sent whole (the loop sends what did not fit).
  @Test func aLargeRequestIsSentWhole() async throws {
    let server = try ScriptedServer { connection, _ in
      guard let request = ScriptedServer.readRequest(connection) else { return }
      let line = #"{"response":"\#(request.body.count)","done":true}"# + "\n"
      ScriptedServer.write(connection, "HTTP/1.1 200 OK\r\nContent-Length: \(line.utf8.count)\r\n\r\n" + line)
    }
    let prompt = String(repeating: "word ", count: 2_000_000)
    let large = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "m", input: .prompt(prompt), options: [:])
    let (_, body) = OllamaClient.requestBody(large, stream: true)
    let completion = try await client(server).complete(large)
    #expect(completion.response == String(try JSONFormats.data(body).count))
  }

  /// Many requests, 32 at a time, from the caller's threads and from the loop's own (as the
  /// worker sends them), each get their own answer, while the server closes some connections after an
  /// answer (said, or not) and the client keeps the others.
  @Test func concurrentRequestsEachGetTheirOwnAnswer() async throws {
    let server = try ScriptedServer { connection, number in
      var served = 0
      while let request = ScriptedServer.readRequest(connection) {
        let prompt = (try? JSONDecoder().decode(JSONValue.self, from: Data(request.body)))?["prompt"]?.stringValue ?? "?"
        served += 1
        let closing = (number + served) % 3 == 0
        let line = #"{"response":"\#(prompt)","done":true}"# + "\n"
        ScriptedServer.write(connection, "HTTP/1.1 200 OK\r\n" + (closing && number % 2 == 0 ? "Connection: close\r\n" : "") + "Transfer-Encoding: chunked\r\n\r\n" + Self.chunk(line) + "0\r\n\r\n")
        if closing { return }
      }
    }
    let client = client(server)
    func send(_ range: Range<Int>) async throws -> [Int: String] {
      // 32 in flight at a time, as a worker keeps its slots full.
      try await withThrowingTaskGroup(of: (Int, String).self) { group in
        var answers: [Int: String] = [:]
        for (count, index) in range.enumerated() {
          if count >= 32, let (done, text) = try await group.next() { answers[done] = text }
          group.addTask {
            let item = WorkItem(seq: index, id: "p\(index)", variant: "v", repeat: 1, model: "m", input: .prompt("prompt \(index)"), options: [:])
            return (index, try await client.complete(item).response)
          }
        }
        for try await (done, text) in group { answers[done] = text }
        return answers
      }
    }
    let fromAnyThread = try await send(0..<300)
    let fromTheLoop = try await withTaskExecutorPreference(PlainLoop.shared) { try await send(300..<600) }
    let answers = fromAnyThread.merging(fromTheLoop) { first, _ in first }
    #expect(answers.count == 600)
    #expect(answers.allSatisfy { $0.value == "prompt \($0.key)" })
  }

  /// A server may answer before it has read the whole request (a 413, say) and keep the
  /// connection: the request's unsent rest would be the next request's start, so the connection
  /// is not used again, and the next request goes on a new one.
  @Test func aConnectionAnsweredBeforeItsRequestWasSentIsNotKept() async throws {
    let server = try ScriptedServer { connection, number in
      if number == 0 {
        var head = [UInt8](repeating: 0, count: 4096)
        _ = read(connection, &head, head.count)
        let message = #"{"error":"request too large"}"#
        ScriptedServer.write(connection, "HTTP/1.1 413 Content Too Large\r\nContent-Length: \(message.utf8.count)\r\n\r\n" + message)
        // Held open, reading nothing: a request sent here would wait until its timeout.
        Thread.sleep(forTimeInterval: 60)
        return
      }
      while ScriptedServer.readRequest(connection) != nil { ScriptedServer.write(connection, Self.okHead + Self.answer) }
    }
    let client = client(server, timeout: .seconds(20))
    let large = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "m", input: .prompt(String(repeating: "word ", count: 4_000_000)), options: [:])
    await #expect(throws: OllamaError.server(status: 413, message: "request too large")) { try await client.complete(large) }
    #expect(try await client.complete(item).response == "Hello")
    #expect(server.accepted == 2)
  }

  /// A last line that no newline ends still counts.
  @Test func aLastLineWithoutANewlineCounts() async throws {
    let server = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + #"{"response":"Hel","done":false}"# + "\n" + #"{"response":"lo","done":true}"#)
    }
    #expect(try await client(server).complete(item).response == "Hello")
  }

  /// Cancelling the task ends its exchange at once, though the server says nothing more.
  @Test func cancellingTheTaskEndsAStalledExchange() async throws {
    let server = try ScriptedServer { connection, _ in
      _ = ScriptedServer.readRequest(connection)
      ScriptedServer.write(connection, Self.okHead + Self.chunk(#"{"response":"Hel","done":false}"# + "\n"))
      Thread.sleep(forTimeInterval: 120)
    }
    let stalled = client(server, timeout: .seconds(100))
    let request = Task { try await stalled.complete(item) }
    try await Task.sleep(for: .milliseconds(300))
    request.cancel()
    let started = ContinuousClock.now
    await #expect(throws: OllamaError.transport("cancelled")) { try await request.value }
    // Far under the request timeout (100 s) on however loaded a machine.
    #expect(ContinuousClock.now - started < .seconds(30))
  }

  /// A refused connection fails at once, and says so.
  @Test func aRefusedConnectionSaysSo() async throws {
    // A port that was free a moment ago, where nothing listens.
    let probe = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0 } }
    close(probe)
    let port = Int(UInt16(bigEndian: address.sin_port))
    let refused = OllamaClient(baseURL: "http://127.0.0.1:\(port)", requestTimeout: .seconds(30))
    await #expect(throws: OllamaError.transport("cannot connect to 127.0.0.1:\(port): Connection refused")) { try await refused.complete(item) }
  }

  /// The plain path serves `http://` base URLs (with a path prefix); others go through AsyncHTTPClient.
  @Test func whichURLsThePlainPathServes() throws {
    let prefixed = try #require(PlainHTTP(baseURL: "http://node7:11434/ollama/"))
    #expect(prefixed.host == "node7" && prefixed.port == 11434 && prefixed.pathPrefix == "/ollama")
    #expect(String(decoding: prefixed.request(path: "/api/chat", body: Data("{}".utf8), accept: nil), as: UTF8.self)
      == "POST /ollama/api/chat HTTP/1.1\r\nHost: node7:11434\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    let v6 = try #require(PlainHTTP(baseURL: "http://[::1]:8080"))
    #expect(v6.host == "::1" && v6.hostHeader == "[::1]:8080")
    #expect(PlainHTTP(baseURL: "http://localhost")?.port == 80)
    #expect(PlainHTTP(baseURL: "https://node7:443") == nil)
    #expect(PlainHTTP(baseURL: "http://user:secret@node7:80") == nil)
  }

  /// Response heads as RFC 9112 reads them.
  @Test func responseHeads() throws {
    func parse(_ lines: String...) throws -> (Int, PlainResponse.Framing, Bool) {
      let parsed = try PlainResponse.parse(head: lines.map { Array($0.utf8) })
      return (parsed.status, parsed.framing, parsed.closes)
    }
    #expect(try parse("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 9") == (200, .chunked, true))
    #expect(try parse("HTTP/1.1 200", "transfer-encoding: gzip, CHUNKED") == (200, .chunked, false))
    #expect(try parse("HTTP/1.1 200 OK", "Transfer-Encoding: gzip") == (200, .untilClose, true))
    #expect(try parse("HTTP/1.1 200 OK", "Transfer-Encoding: gzip", "Content-Length: 9") == (200, .untilClose, true))
    #expect(try parse("HTTP/1.1 200 OK", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked") == (200, .chunked, false))
    #expect(try parse("HTTP/1.1 200 OK", "Content-Length: 7, 7", "Content-Length: 7") == (200, .length(7), false))
    #expect(throws: OllamaError.self) { try parse("HTTP/1.1 200 OK", "Content-Length: 7", "Content-Length: 8") }
    #expect(throws: OllamaError.self) { try parse("HTTP/1.1 200 OK", "Content-Length: +7") }
    #expect(try parse("HTTP/1.1 304 Not Modified", "Content-Length: 70") == (304, .length(0), false))
    #expect(try parse("HTTP/1.1 404 Not Found", "Content-Length: 12", "Connection: close") == (404, .length(12), true))
    #expect(try parse("HTTP/1.0 200 OK", "Content-Length: 3") == (200, .length(3), true))
    #expect(try parse("HTTP/1.0 200 OK", "Content-Length: 3", "Connection: Keep-Alive") == (200, .length(3), false))
    #expect(try parse("HTTP/1.1 204 No Content") == (204, .length(0), false))
    #expect(throws: OllamaError.self) { try parse("HTTP/2 200") }
    #expect(throws: OllamaError.self) { try parse("HTTP/1.1 20x OK") }
    #expect(throws: OllamaError.self) { try parse("HTTP/1.1 200 OK", "Content-Length: -1") }
    #expect(throws: OllamaError.self) { try parse("SSH-2.0-OpenSSH_9.2") }
  }

  /// Through AsyncHTTPClient (the path for `https://`), the simulator's answers are the same.
  @Test func theAsyncHTTPClientPathGivesTheSameAnswers() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b"])
    var plain = OllamaClient(baseURL: sim.url)
    var general = plain
    general.plain = nil
    let seeded = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "gemma:7b", input: .prompt("Why is the sky blue?"), options: ["seed": .int(7), "temperature": .double(0)])
    let one = try await plain.complete(seeded)
    let other = try await general.complete(seeded)
    #expect(!one.response.isEmpty && one.response == other.response && one.timings.evalCount == other.timings.evalCount)
    let missing = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "nope:1b", input: .prompt("hi"), options: [:])
    plain.requestTimeout = .seconds(20)
    await #expect(throws: OllamaError.server(status: 404, message: #"model "nope:1b" not found, try pulling it first"#)) { try await plain.complete(missing) }
    await #expect(throws: OllamaError.server(status: 404, message: #"model "nope:1b" not found, try pulling it first"#)) { try await general.complete(missing) }
  }
}
