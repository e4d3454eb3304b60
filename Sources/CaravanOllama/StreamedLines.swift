import AsyncHTTPClient
import Foundation
import NIOCore

/// What a streamed answer's lines build: one line in, and the answer once its last line came.
/// Throwing ends the exchange with that error (a mid-stream error line, a line that is not JSON).
protocol StreamedLines: Sendable {
  associatedtype Answer: Sendable
  /// Reads one line, which arrived at `now`.
  mutating func read(_ line: Data, at now: ContinuousClock.Instant) throws(OllamaError) -> Answer?
  /// What a body that ended before its last line gives: an error.
  func end() throws(OllamaError) -> Answer
  /// The error for a response that is not 200, from its body.
  static func failure(status: Int, body: Data) -> OllamaError
}

extension HTTPClient {
  /// POSTs `body` (JSON) to `url` and reads the streamed answer with `lines`, within `bound`,
  /// through AsyncHTTPClient: for the servers `PlainHTTP` does not serve (`https://`).
  func stream<Lines: StreamedLines>(url: String, body: Data, accept: String? = nil, _ lines: Lines, within bound: TimeAmount) async throws(OllamaError) -> Lines.Answer {
    try await bounded(bound) { () async throws(OllamaError) -> Lines.Answer in
      var request = HTTPClientRequest(url: url)
      request.method = .POST
      request.headers.add(name: "Content-Type", value: "application/json")
      if let accept { request.headers.add(name: "Accept", value: accept) }
      request.body = .bytes(ByteBuffer(bytes: body))
      var lines = lines
      do {
        let response = try await self.execute(request, timeout: bound)
        guard response.status == .ok else {
          let bytes = try await response.body.collect(upTo: 1 << 20)
          throw Lines.failure(status: Int(response.status.code), body: Data(bytes.readableBytesView))
        }
        var splitter = LineSplitter()
        for try await chunk in response.body {
          for line in splitter.append(chunk) {
            if let answer = try lines.read(line, at: .now) { return answer }
          }
          guard splitter.pendingCount <= LineSplitter.lineLimit else { throw OllamaError.decoding("a line of the stream runs past \(LineSplitter.lineLimit >> 20) MiB") }
        }
        // A last line without a newline still counts.
        if let last = splitter.rest(), let answer = try lines.read(last, at: .now) { return answer }
        return try lines.end()
      } catch {
        throw OllamaError.classify(error, timeout: bound)
      }
    }
  }
}
