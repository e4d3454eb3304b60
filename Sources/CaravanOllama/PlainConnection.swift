import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection to a server, with a read buffer of its own. Its socket does not block
/// (nor does its connect):
/// `PlainLoop` reads it when epoll says bytes came, and a read that finds none sets
/// `wouldBlock` and fails, leaving what it had not taken in the buffer for the next try.
final class PlainConnection: @unchecked Sendable {
  let fd: Int32
  /// The server it goes to ("host port"): where it waits while idle.
  let server: String
  private let buffer: UnsafeMutableRawBufferPointer
  /// The buffered bytes not read yet: `buffer[start..<end]`.
  private var start = 0
  private var end = 0
  /// Bytes received since `begin`: a kept connection that fails with none was closed by the
  /// server while idle, and the request is sent once more on a new one.
  private(set) var received = 0
  /// The last read found no bytes (nor the end of the stream): wait for epoll.
  private(set) var wouldBlock = false

  static let bufferSize = 64 << 10
  /// The error a read that would block fails with (and `wouldBlock` says so).
  static let noBytesYet = OllamaError.transport("no bytes have come yet")

  private init(fd: Int32, server: String) {
    self.fd = fd
    self.server = server
    buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
  }

  deinit {
    close(fd)
    buffer.deallocate()
  }

  /// One address of a server, as getaddrinfo gave it.
  struct Address: Sendable {
    let family: Int32
    let proto: Int32
    let bytes: [UInt8]
  }

  /// The addresses of `host` (a name or an address), resolved once for the process: resolving
  /// a name may wait on DNS, and it is done on the loop's thread. A server none of whose
  /// addresses takes a connection is resolved again next time (`forget`).
  static func addresses(host: String, port: Int) throws(OllamaError) -> [Address] {
    let key = "\(host) \(port)"
    if let known = resolved.withLock({ $0[key] }) { return known }
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
    var addresses: [Address] = []
    var next: UnsafeMutablePointer<addrinfo>? = first
    while let entry = next {
      next = entry.pointee.ai_next
      guard let socketAddress = entry.pointee.ai_addr else { continue }
      let bytes = Array(UnsafeRawBufferPointer(start: socketAddress, count: Int(entry.pointee.ai_addrlen)))
      addresses.append(Address(family: entry.pointee.ai_family, proto: entry.pointee.ai_protocol, bytes: bytes))
    }
    resolved.withLock { $0[key] = addresses }
    return addresses
  }

  static func forget(host: String, port: Int) {
    _ = resolved.withLock { $0.removeValue(forKey: "\(host) \(port)") }
  }

  private static let resolved = Mutex<[String: [Address]]>([:])

  /// Starts connecting to `address` without waiting: connected at once (true), or when the
  /// socket turns writable (false; `connectState` then says how it went).
  static func connect(to address: Address, server: String) throws(OllamaError) -> (PlainConnection, connected: Bool) {
    let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), address.proto)
    guard fd >= 0 else { throw .transport("cannot open a socket: \(String(cString: strerror(errno)))") }
    let connection = PlainConnection(fd: fd, server: server)
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    let result = address.bytes.withUnsafeBytes {
      Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
    }
    if result == 0 { return (connection, true) }
    guard errno == EINPROGRESS else { throw .transport(String(cString: strerror(errno))) }
    return (connection, false)
  }

  /// Where a connect that did not finish at once stands.
  enum ConnectState: Equatable {
    case connected
    /// Not finished yet (an event for this socket came early).
    case pending
    case failed(String)
  }

  var connectState: ConnectState {
    var error: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return .failed(String(cString: strerror(errno))) }
    guard error == 0 else { return .failed(String(cString: strerror(error))) }
    var peer = sockaddr_storage()
    var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let named = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peerLength) } }
    return named == 0 ? .connected : .pending
  }

  /// Starts an exchange: counts the bytes it receives from zero.
  func begin() {
    received = 0
    wouldBlock = false
  }

  /// Before each round of reads: nothing has been found missing yet.
  func resume() { wouldBlock = false }

  /// No bytes are buffered that a response has not read (a connection fit to be used again).
  var isIdle: Bool { start == end }

  /// Sends what it can of `bytes[offset...]` without waiting; returns the new offset.
  func send(_ bytes: [UInt8], from offset: Int) throws(OllamaError) -> Int {
    var sent = offset
    while sent < bytes.count {
      let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
      if count >= 0 {
        sent += count
        continue
      }
      switch errno {
      case EINTR: continue
      case EAGAIN, EWOULDBLOCK: return sent
      default: throw .transport("cannot send the request: \(String(cString: strerror(errno)))")
      }
    }
    return sent
  }

  /// Reads what has come into the buffer; false when the server closed the connection.
  private func fill() throws(OllamaError) -> Bool {
    if start == end { (start, end) = (0, 0) }
    if end == buffer.count {
      guard start > 0 else { throw .transport("a line longer than \(Self.bufferSize) bytes") }
      buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
      (start, end) = (0, end - start)
    }
    while true {
      let count = recv(fd, buffer.baseAddress! + end, buffer.count - end, 0)
      if count > 0 {
        end += count
        received += count
        return true
      }
      if count == 0 { return false }
      switch errno {
      case EINTR: continue
      case EAGAIN, EWOULDBLOCK:
        wouldBlock = true
        throw Self.noBytesYet
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

  /// Reads until a whole response head (up to its blank line) is buffered.
  func bufferHead(limit: Int) throws(OllamaError) {
    var searched = start
    while true {
      var from = searched
      while let found = memchr(buffer.baseAddress! + from, Int32(UInt8(ascii: "\n")), end - from) {
        let at = buffer.baseAddress!.distance(to: found)
        // A line that is empty, or holds just "\r", ends the head.
        if at == start || buffer[at - 1] == UInt8(ascii: "\n") || (buffer[at - 1] == UInt8(ascii: "\r") && (at - 1 == start || buffer[at - 2] == UInt8(ascii: "\n"))) {
          return
        }
        from = at + 1
      }
      guard end - start <= limit else { throw .transport("a response head longer than \(limit) bytes") }
      let scanned = end - start
      guard try fill() else {
        throw .transport(received == 0 ? "the server closed the connection without answering" : "the connection closed in the middle of the response head")
      }
      searched = start + scanned
    }
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
