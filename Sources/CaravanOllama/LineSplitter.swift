import Foundation
import NIOCore

/// Cuts a byte stream into lines as chunks arrive (a line may span chunks): NDJSON from Ollama,
/// and the `data:` lines of server-sent events. Newlines are found with memchr in the chunk's
/// own bytes, and only a line's bytes are copied (once; a line that spans chunks once more).
struct LineSplitter {
  /// The start of a line whose newline has not arrived yet.
  private var pending = Data()

  /// The complete, non-empty lines the chunk finishes, without their newline (nor a `\r` before it).
  mutating func append(_ chunk: ByteBuffer) -> [Data] {
    chunk.withUnsafeReadableBytes { append($0) }
  }

  /// The complete, non-empty lines `bytes` finishes, without their newline (nor a `\r` before it).
  mutating func append(_ bytes: UnsafeRawBufferPointer) -> [Data] {
    guard let raw = bytes.baseAddress else { return [] }
    var lines: [Data] = []
    let base = raw.assumingMemoryBound(to: UInt8.self)
    var start = 0
    while start < bytes.count, let found = memchr(raw + start, Int32(UInt8(ascii: "\n")), bytes.count - start) {
      let newline = raw.distance(to: UnsafeRawPointer(found))
      var line: Data
      if pending.isEmpty {
        line = Data(bytes: base + start, count: newline - start)
      } else {
        pending.append(base + start, count: newline - start)
        line = pending
        pending = Data()
      }
      if line.last == UInt8(ascii: "\r") { line.removeLast() }
      if !line.isEmpty { lines.append(line) }
      start = newline + 1
    }
    if start < bytes.count { pending.append(base + start, count: bytes.count - start) }
    return lines
  }

  /// Bytes of a line whose newline has not come yet.
  var pendingCount: Int { pending.count }

  /// The longest line a stream may send (a final line carries the answer whole, and Ollama's
  /// `context`): a body that sends more without a newline is not a stream of lines.
  static let lineLimit = 64 << 20

  /// At the body's end: its last line if no newline ended it (nil if there is none).
  mutating func rest() -> Data? {
    defer { pending = Data() }
    var line = pending
    if line.last == UInt8(ascii: "\r") { line.removeLast() }
    return line.isEmpty ? nil : line
  }
}
