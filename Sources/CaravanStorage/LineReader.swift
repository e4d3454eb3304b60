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
      guard !finished, let file else { return false }
      // Keep the unfinished last line, then read the next chunk after it, straight into the
      // new buffer (reading into a zeroed chunk and then copying it was a sixth of collect's
      // reading).
      bufferOffset += position
      let kept = buffer.count - position
      var got = 0
      buffer = buffer.withUnsafeBytes { old in
        [UInt8](unsafeUninitializedCapacity: kept + chunkSize) { new, initialized in
          let bytes = UnsafeMutableRawBufferPointer(new)
          if kept > 0 { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: old[position...])) }
          got = file.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[kept...]))
          initialized = kept + Swift.max(0, got)
        }
      }
      position = 0
      if got <= 0 {
        finished = true
        return false
      }
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

  /// Reads the line at `offset` into `buffer`, which is as long as the line.
  public func read(offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
    let count = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
    guard count == buffer.count else { throw RunDirectoryError("short read at byte \(offset) of a results file (was it truncated while collecting?)") }
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

  /// Reads the next bytes into `buffer`: how many (0 at the end, -1 on error).
  func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
    Glibc.read(fd, buffer.baseAddress, buffer.count)
  }
}
