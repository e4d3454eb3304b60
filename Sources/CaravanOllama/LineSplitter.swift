import Foundation
import NIOCore

/// Cuts a byte stream into lines as chunks arrive (a line may span chunks): NDJSON from Ollama,
/// and the `data:` lines of server-sent events. Each byte is looked at once, and what is left
/// of the buffer is copied once per chunk, not once per line.
struct LineSplitter {
  private var pending = Data()

  /// The complete, non-empty lines the chunk finishes, without their newline (nor a `\r` before it).
  mutating func append(_ chunk: ByteBuffer) -> [Data] {
    pending.append(contentsOf: chunk.readableBytesView)
    var lines: [Data] = []
    var start = pending.startIndex
    while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
      var end = newline
      if end > start, pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
      if end > start { lines.append(Data(pending[start..<end])) }
      start = newline + 1
    }
    if start > pending.startIndex { pending = Data(pending[start...]) }
    return lines
  }
}
