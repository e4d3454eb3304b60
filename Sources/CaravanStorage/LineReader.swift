import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a file line by line in fixed-size chunks, giving each complete line with its byte
/// offset. A last line without a newline (torn by a crash) is not returned.
public struct LineReader: Sequence, IteratorProtocol {
  private let file: ReadOnlyFile?
  /// Bytes read and not yet returned: `buffer[position...]`, which starts at file offset
  /// `bufferOffset`.
  private var buffer: [UInt8] = []
  private var position = 0
  private var bufferOffset = 0
  private var finished = false
  private let chunkSize: Int

  public init(path: String, chunkSize: Int = 1 << 20) {
    file = ReadOnlyFile(path: path)
    self.chunkSize = chunkSize
  }

  public mutating func next() -> (offset: Int, line: Data)? {
    var next: (offset: Int, line: Data)?
    guard nextLine({ offset, bytes in next = (offset, Data(bytes)) }) else { return nil }
    return next
  }

  /// Gives the next complete line's offset and bytes to `body` without copying them (valid
  /// only inside it); false at the end. Collect reads every record this way. (Not generic: a
  /// generic one called from another module looked up its type metadata on every line.)
  public mutating func nextLine(_ body: (_ offset: Int, _ line: UnsafeRawBufferPointer) -> Void) -> Bool {
    while true {
      // nil: no complete line in the buffer; false: an empty line; true: a line given to body.
      let found: Bool? = buffer.withUnsafeBytes { bytes in
        // memchr finds the newline; walking a Data slice byte by byte was a fifth of collect.
        guard position < bytes.count, let base = bytes.baseAddress,
          let newline = memchr(base + position, Int32(UInt8(ascii: "\n")), bytes.count - position)
        else { return nil }
        let end = base.distance(to: UnsafeRawPointer(newline))
        defer { position = end + 1 }
        if end == position { return false }
        body(bufferOffset + position, UnsafeRawBufferPointer(start: base + position, count: end - position))
        return true
      }
      switch found {
      case true?: return true
      case false?: continue  // an empty line
      case nil: break
      }
      guard !finished, let file, let chunk = file.read(upTo: chunkSize), !chunk.isEmpty else {
        finished = true
        return false
      }
      // Keep the unfinished last line, then add the chunk.
      bufferOffset += position
      buffer.removeSubrange(0..<position)
      position = 0
      buffer.append(contentsOf: chunk)
    }
  }
}

/// Reads one line at a known offset (random access into a results file) with pread(2) into a
/// buffer of its own: no mapping of the file, so a large results file does not add to RSS.
public final class LineAt {
  private let fd: Int32

  public init?(path: String) {
    fd = open(path, O_RDONLY)
    if fd < 0 { return nil }
  }

  deinit { close(fd) }

  public func read(offset: Int, length: Int) throws -> Data {
    var data = Data(count: length)
    let count = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(offset)) }
    guard count == length else { throw RunDirectoryError("short read at byte \(offset) of a results file (was it truncated while collecting?)") }
    return data
  }
}

/// A file read with read(2) into our own buffers (Foundation's FileHandle may map the file,
/// which counts its pages towards the process's memory).
final class ReadOnlyFile {
  private let fd: Int32

  init?(path: String) {
    fd = open(path, O_RDONLY)
    if fd < 0 { return nil }
  }

  deinit { close(fd) }

  /// The next bytes, at most `count`; empty at the end, nil on error.
  func read(upTo count: Int) -> Data? {
    var data = Data(count: count)
    let got = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count) }
    guard got >= 0 else { return nil }
    data.count = got
    return data
  }
}
