import Foundation

/// An HTTP/1.1 response read from a connection as its bytes come, head first, then its body as
/// its framing says (RFC 9112): chunked, a length, or until the server closes. Every read that
/// finds too few bytes fails with `PlainConnection.noBytesYet` and consumes nothing it needs
/// later, so the same call is simply made again when more have come. Only what a streamed answer
/// needs is kept from the head: the status, the framing and whether the connection may be
/// used again.
struct PlainResponse {
  /// How the body ends.
  enum Framing: Equatable {
    case chunked
    case length(Int)
    /// HTTP/1.0 style: the body is everything until the server closes.
    case untilClose
  }

  let status: Int
  let framing: Framing
  /// The server said `Connection: close` (or spoke HTTP/1.0 without keep-alive), or the body
  /// ends with the connection.
  let closes: Bool

  /// Where the chunked body is.
  private enum Step { case size, data, dataEnd, trailers, done }
  private var step: Step
  /// Bytes left of the current chunk, or of a `Content-Length` body.
  private var remaining: Int

  /// The longest head and chunk-size or trailer line accepted.
  static let headLimit = 64 << 10

  /// The response head, once all of it has come (before, `noBytesYet`: the bytes stay
  /// buffered); interim 1xx responses are passed over.
  static func head(from socket: PlainConnection) throws(OllamaError) -> PlainResponse {
    while true {
      try socket.bufferHead(limit: headLimit)
      var lines: [[UInt8]] = []
      while case let line = try socket.readLine(limit: headLimit), !line.isEmpty { lines.append(line) }
      let parsed = try parse(head: lines)
      // 100 Continue and other interim answers come before the real one (not 101: no upgrade is asked for).
      if (100..<200).contains(parsed.status), parsed.status != 101 { continue }
      return PlainResponse(parsed)
    }
  }

  private init(_ head: (status: Int, framing: Framing, closes: Bool)) {
    (status, framing, closes) = head
    switch framing {
    case .chunked: (step, remaining) = (.size, 0)
    case .length(let count): (step, remaining) = (count == 0 ? .done : .data, count)
    case .untilClose: (step, remaining) = (.data, Int.max)
    }
  }

  /// The status line and the three headers that matter, framed as RFC 9112 section 6 says:
  /// `Transfer-Encoding` wins over `Content-Length`, and differing lengths are an error. Read as bytes: a head is parsed for every request.
  static func parse(head: [[UInt8]]) throws(OllamaError) -> (status: Int, framing: Framing, closes: Bool) {
    let statusLine = head.first ?? []
    // "HTTP/1.x NNN reason"
    guard statusLine.count >= 12, statusLine.starts(with: Self.version), statusLine[8] == UInt8(ascii: " "),
      let status = Self.number(statusLine[9..<12], radix: 10), statusLine.count == 12 || statusLine[12] == UInt8(ascii: " ")
    else {
      throw .transport("not an HTTP/1.1 response: \(String(decoding: statusLine.prefix(100), as: UTF8.self))")
    }
    let http10 = statusLine[7] == UInt8(ascii: "0")
    var keepAlive = !http10
    var codings: [String]?
    var length: Int?
    for line in head.dropFirst() {
      guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
      let name = line[..<colon]
      guard let header = Self.headers.firstIndex(where: { Self.equalIgnoringCase(name, $0) }) else { continue }
      let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
      let options = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      switch header {
      case 0:  // transfer-encoding (a list, perhaps over several lines)
        codings = (codings ?? []) + options
      case 1:  // content-length: digits, or a list of the same digits
        guard let first = options.first, options.allSatisfy({ $0 == first }), let count = Self.number(Array(first.utf8)[...], radix: 10),
          length == nil || length == count
        else { throw .transport("a Content-Length that is not one length: \(value.prefix(40))") }
        length = count
      default:  // connection
        if options.contains("close") { keepAlive = false }
        if options.contains("keep-alive") { keepAlive = true }
      }
    }
    // No body, whatever the head says.
    if status == 204 || status == 304 { return (status, .length(0), !keepAlive) }
    if let codings {
      // Chunked last: chunked. Any other last coding: the body runs to the end of the
      // connection. Either way a Content-Length is ignored, and with it (or from an HTTP/1.0
      // server) the connection is not used again.
      let closes = !keepAlive || length != nil || http10
      return codings.last == "chunked" ? (status, .chunked, closes) : (status, .untilClose, true)
    }
    if let length { return (status, .length(length), !keepAlive) }
    return (status, .untilClose, true)
  }

  private static let version = Array("HTTP/1.".utf8)
  /// In lower case, in the order `parse` switches on.
  private static let headers = ["transfer-encoding", "content-length", "connection"].map { Array($0.utf8) }

  private static func equalIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lower: [UInt8]) -> Bool {
    bytes.count == lower.count && zip(bytes, lower).allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z") ~= $0 ? $0 | 0x20 : $0) == $1 }
  }

  /// Digits in `radix` as a number; nil for anything else, or more than 15 digits.
  static func number(_ digits: ArraySlice<UInt8>, radix: Int) -> Int? {
    guard !digits.isEmpty, digits.count <= 15 else { return nil }
    var value = 0
    for byte in digits {
      let digit: Int
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
      default: return nil
      }
      guard digit < radix else { return nil }
      value = value * radix + digit
    }
    return value
  }

  /// Hands the body's bytes to `sink` as they arrive, until the body ends (true) or `sink`
  /// returns true (false: the rest of the body can be read by another call).
  mutating func read(from socket: PlainConnection, into sink: (UnsafeRawBufferPointer) throws(OllamaError) -> Bool) throws(OllamaError) -> Bool {
    while true {
      switch step {
      case .done:
        return true
      case .size:
        let line = try socket.readLine(limit: Self.headLimit)
        // A size in hex, perhaps followed by `;extensions` (and spaces before them).
        let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        guard let size = Self.number(digits, radix: 16) else {
          throw .transport("a chunk size that is not hex: \(String(decoding: line.prefix(40), as: UTF8.self))")
        }
        (step, remaining) = size == 0 ? (.trailers, 0) : (.data, size)
      case .data:
        guard try socket.hasBytes() else {
          if framing == .untilClose {
            step = .done
            return true
          }
          throw .transport("the connection closed in the middle of the body")
        }
        let stop = try socket.take(upTo: remaining) { bytes throws(OllamaError) in
          if remaining != Int.max { remaining -= bytes.count }
          return try sink(bytes)
        }
        if remaining == 0 { step = framing == .chunked ? .dataEnd : .done }
        if stop { return step == .done }
      case .dataEnd:
        guard try socket.readLine(limit: 2).isEmpty else { throw .transport("a chunk that does not end with CRLF") }
        step = .size
      case .trailers:
        if try socket.readLine(limit: Self.headLimit).isEmpty { step = .done }
      }
    }
  }
}
