import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection to a server, written and read with blocking system calls by the thread
/// that runs an exchange on it, through a read buffer of its own. Every call that may wait
/// gives up at `deadline` (the socket's own timeouts are kept at or under the time left).
final class PlainConnection {
  let fd: Int32
  private let buffer: UnsafeMutableRawBufferPointer
  /// The buffered bytes not read yet: `buffer[start..<end]`.
  private var start = 0
  private var end = 0
  /// When reads and writes give up, and the error they give up with.
  private var deadline = ContinuousClock.now
  private var expired = OllamaError.timedOut(.zero)
  /// The timeout the socket has now (SO_RCVTIMEO and SO_SNDTIMEO), kept at or under the time left.
  private var socketTimeout: Duration = .zero
  /// Bytes received since `begin`: a connection used before that fails with none was closed by
  /// the server while idle, and the request is sent again on a new one.
  private(set) var received = 0
  /// When false, a read that would wait fails at once and sets `wouldBlock`.
  var blocking = true
  private(set) var wouldBlock = false

  static let bufferSize = 64 << 10

  private init(fd: Int32) {
    self.fd = fd
    buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
  }

  deinit {
    close(fd)
    buffer.deallocate()
  }

  /// Connects to `host`:`port` (a name or an address, the first of its addresses that takes
  /// the connection), within 10 s or by `deadline`, whichever comes first.
  static func open(host: String, port: Int, deadline: ContinuousClock.Instant, expired: OllamaError) throws(OllamaError) -> PlainConnection {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    let looked = getaddrinfo(host, String(port), &hints, &list)
    guard looked == 0, let first = list else {
      throw .transport("cannot resolve \(host): \(String(cString: gai_strerror(looked)))")
    }
    defer { freeaddrinfo(first) }
    var failure = "no address"
    var next: UnsafeMutablePointer<addrinfo>? = first
    while let address = next {
      next = address.pointee.ai_next
      let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), address.pointee.ai_protocol)
      guard fd >= 0 else {
        failure = String(cString: strerror(errno))
        continue
      }
      let connection = PlainConnection(fd: fd)
      connection.begin(until: min(deadline, .now + .seconds(10)), expired: expired)
      // Linux bounds a blocking connect by SO_SNDTIMEO (it fails with EINPROGRESS at the end).
      guard connection.keepTimeoutUnderTimeLeft() else { throw expired }
      if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return connection
      }
      failure = errno == EINPROGRESS ? "Connection timed out" : String(cString: strerror(errno))
    }
    throw .transport("cannot connect to \(host):\(port): \(failure)")
  }

  /// Starts an exchange that must be over by `deadline`, failing with `expired` after it.
  func begin(until deadline: ContinuousClock.Instant, expired: OllamaError) {
    self.deadline = deadline
    self.expired = expired
    received = 0
    wouldBlock = false
    blocking = true
  }

  /// No bytes are buffered that a response has not read (a connection fit to be used again).
  var isIdle: Bool { start == end }

  /// Keeps the socket's timeouts at or under the time left, give or take a sixteenth of it and
  /// 10 ms (so most reads make no extra system call, and a bound is never overrun by more);
  /// false once the time is up.
  private func keepTimeoutUnderTimeLeft() -> Bool {
    let left = deadline - .now
    guard left > .zero else { return false }
    if socketTimeout == .zero || socketTimeout > left + left / 16 + .milliseconds(10) {
      let (seconds, attoseconds) = left.components
      var value = timeval(tv_sec: Int(seconds), tv_usec: Int(max(1, attoseconds / 1_000_000_000_000)))
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
      socketTimeout = left
    }
    return true
  }

  /// Writes all of `bytes`.
  func write(_ bytes: [UInt8]) throws(OllamaError) {
    var sent = 0
    while sent < bytes.count {
      guard keepTimeoutUnderTimeLeft() else { throw expired }
      let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
      if count >= 0 {
        sent += count
      } else if errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK {
        throw .transport("cannot send the request: \(String(cString: strerror(errno)))")
      }
    }
  }

  /// Reads more into the buffer; false when the server closed the connection.
  private func fill() throws(OllamaError) -> Bool {
    if start == end { (start, end) = (0, 0) }
    if end == buffer.count {
      guard start > 0 else { throw .transport("a line or head longer than \(Self.bufferSize) bytes") }
      (buffer.baseAddress! + 0).copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
      (start, end) = (0, end - start)
    }
    while true {
      guard blocking || !wouldBlock else { throw .transport("no more bytes yet") }
      guard keepTimeoutUnderTimeLeft() else { throw expired }
      let count = recv(fd, buffer.baseAddress! + end, buffer.count - end, blocking ? 0 : Int32(MSG_DONTWAIT))
      if count > 0 {
        end += count
        received += count
        return true
      }
      if count == 0 { return false }
      switch errno {
      case EINTR: continue
      case EAGAIN, EWOULDBLOCK:
        if !blocking { wouldBlock = true }
      default: throw .transport("cannot read the response: \(String(cString: strerror(errno)))")
      }
    }
  }

  /// Bytes are buffered or came; false when the server closed the connection first.
  func hasBytes() throws(OllamaError) -> Bool {
    if start < end { return true }
    return try fill()
  }

  /// Hands `body` up to `limit` buffered bytes (at least one must be buffered), which it reads.
  func take<T>(upTo limit: Int, _ body: (UnsafeRawBufferPointer) throws(OllamaError) -> T) throws(OllamaError) -> T {
    let count = min(limit, end - start)
    let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: count)
    start += count
    return try body(bytes)
  }

  /// The bytes up to the next `\n`, without it (nor a `\r` before it).
  func readLine(limit: Int) throws(OllamaError) -> [UInt8] {
    var searched = start
    while true {
      if let found = memchr(buffer.baseAddress! + searched, Int32(UInt8(ascii: "\n")), end - searched) {
        let at = buffer.baseAddress!.distance(to: found)
        var line = Array(UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: at - start))
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        start = at + 1
        return line
      }
      guard end - start <= limit else { throw .transport("a response line longer than \(limit) bytes") }
      let scanned = end - start
      guard try fill() else {
        throw .transport(received == 0 ? "the server closed the connection without answering" : "the connection closed in the middle of the response")
      }
      // fill may have moved the buffered bytes to the front.
      searched = start + scanned
    }
  }
}
