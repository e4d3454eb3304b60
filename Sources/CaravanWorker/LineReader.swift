import Foundation

/// Reads a file line by line in fixed-size chunks, giving each complete line with its byte
/// offset. A last line without a newline (torn by a crash) is not returned.
public struct LineReader: Sequence, IteratorProtocol {
  private let handle: FileHandle?
  private var buffer = Data()
  private var bufferOffset = 0
  private var finished = false
  private let chunkSize: Int

  public init(path: String, chunkSize: Int = 1 << 20) {
    handle = FileHandle(forReadingAtPath: path)
    self.chunkSize = chunkSize
  }

  public mutating func next() -> (offset: Int, line: Data)? {
    while true {
      if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let line = buffer[buffer.startIndex..<newline]
        let offset = bufferOffset
        let consumed = newline - buffer.startIndex + 1
        buffer = buffer[(newline + 1)...]
        bufferOffset += consumed
        if line.isEmpty { continue }
        return (offset, Data(line))
      }
      guard !finished, let handle, let chunk = try? handle.read(upToCount: chunkSize), !chunk.isEmpty else {
        finished = true
        return nil
      }
      buffer = Data(buffer) + chunk
    }
  }
}

/// Reads one line at a known offset (random access into a results file).
struct LineAt {
  let handle: FileHandle

  init?(path: String) {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    self.handle = handle
  }

  func read(offset: Int, length: Int) throws -> Data {
    try handle.seek(toOffset: UInt64(offset))
    return try handle.read(upToCount: length) ?? Data()
  }
}
