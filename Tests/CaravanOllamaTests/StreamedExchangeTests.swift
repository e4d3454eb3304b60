import CaravanCore
import Foundation
import NIOCore
import Testing

@testable import CaravanOllama

/// The streamed answer is read where AsyncHTTPClient reads it; these are the ends of a stream
/// that a well-behaved server never shows, from a raw socket that answers as told.
@Suite struct StreamedExchangeTests {
  /// A one-connection HTTP server on 127.0.0.1: it reads the request head and body, writes
  /// `response`, and then holds the connection open for `hold` seconds.
  final class RawServer: @unchecked Sendable {
    let port: Int
    private let socket: Int32

    init(response: String, hold: Double) throws {
      let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
      }
      socket = listener
      guard bound, listen(listener, 1) == 0 else { throw POSIXError(.EADDRINUSE) }
      port = Int(UInt16(bigEndian: address.sin_port))
      Thread {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        var request = [UInt8](repeating: 0, count: 65536)
        _ = read(connection, &request, request.count)  // the request is small: one read holds it
        _ = Array(response.utf8).withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
        Thread.sleep(forTimeInterval: hold)
        close(connection)
      }.start()
    }

    deinit { close(socket) }
  }

  static func chunk(_ text: String) -> String { String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n" }

  let item = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "m", input: .prompt("hi"), options: [:])

  /// A server that sends its last line and then holds the response open: the answer is given
  /// at its last line. (Had it waited for the body, the 5 s grace would have ended the exchange
  /// with an error, and the request timeout is later still: success alone shows it, with no
  /// clock to read on a loaded machine, where this once took 12 s from the request's start.)
  @Test func anAnswerIsGivenAtItsLastLineThoughTheBodyNeverEnds() async throws {
    let body = Self.chunk(#"{"response":"Hel","done":false}"# + "\n") + Self.chunk(#"{"response":"lo","done":true,"eval_count":2}"# + "\n")
    let server = try RawServer(response: "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n" + body, hold: 60)
    let client = OllamaClient(baseURL: "http://127.0.0.1:\(server.port)", requestTimeout: .seconds(50))
    let completion = try await client.complete(item)
    #expect(completion.response == "Hello" && completion.timings.evalCount == 2)
  }

  /// A stream that stops sending without ending is bounded by the request timeout.
  @Test func aStreamThatStallsTimesOut() async throws {
    let body = Self.chunk(#"{"response":"Hel","done":false}"# + "\n")
    let server = try RawServer(response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, hold: 30)
    let client = OllamaClient(baseURL: "http://127.0.0.1:\(server.port)", requestTimeout: .seconds(2))
    await #expect(throws: OllamaError.timedOut(.seconds(2))) { try await client.complete(item) }
  }

  /// An error status keeps its body's message; a body that ends early is a mid-stream failure.
  @Test func errorsKeepTheirMeaning() async throws {
    let message = #"{"error":"model 'm' not found"}"#
    let refused = try RawServer(
      response: "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: \(message.utf8.count)\r\nConnection: close\r\n\r\n" + message,
      hold: 0)
    let notFound = OllamaClient(baseURL: "http://127.0.0.1:\(refused.port)", requestTimeout: .seconds(10))
    await #expect(throws: OllamaError.server(status: 404, message: "model 'm' not found")) { try await notFound.complete(item) }

    let cut = try RawServer(
      response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunk(#"{"response":"Hel","done":false}"# + "\n") + "0\r\n\r\n", hold: 0)
    let early = OllamaClient(baseURL: "http://127.0.0.1:\(cut.port)", requestTimeout: .seconds(10))
    await #expect(throws: OllamaError.midStream("the stream ended before its final (done) line")) { try await early.complete(item) }
  }
}
