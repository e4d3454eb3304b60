import CaravanCore
import Foundation

/// Reading and appending JSON Lines files, the format of shards, results and merged output.
public enum JSONLines {
  /// Decodes each complete line; a torn last line (a crash mid-write) is skipped, not an error.
  /// Returns the values and the byte length of the intact prefix.
  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> (values: [T], intactBytes: Int) {
    guard FileManager.default.fileExists(atPath: path) else { return ([], 0) }
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let decoder = JSONDecoder()
    var values: [T] = []
    var start = data.startIndex
    var intact = 0
    var lineNumber = 0
    while start < data.endIndex {
      lineNumber += 1
      guard let newline = data[start...].firstIndex(of: UInt8(ascii: "\n")) else {
        // No newline: the writer died mid-line. Everything before it is intact.
        break
      }
      let line = data[start..<newline]
      if !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) {
        do {
          values.append(try decoder.decode(T.self, from: line))
        } catch {
          throw JSONLinesError(path: path, line: lineNumber, reason: "\(error)")
        }
      }
      start = data.index(after: newline)
      intact = start - data.startIndex
    }
    return (values, intact)
  }

  /// Writes values as JSON Lines to `path`, replacing it.
  public static func write<T: Encodable>(_ values: [T], to path: String) throws {
    var data = Data()
    let encoder = lineEncoder()
    for value in values {
      data.append(try encoder.encode(value))
      data.append(UInt8(ascii: "\n"))
    }
    try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    RunFileModes.fix(path)
  }

  /// The encoder every JSON Lines file uses: one line per value, stable key order.
  public static func lineEncoder() -> JSONEncoder { JSONFormats.lineEncoder() }
}

/// A line that is not valid JSON in a file Caravan wrote: the file was changed by hand or damaged.
public struct JSONLinesError: Error, CustomStringConvertible {
  public var path: String
  public var line: Int
  public var reason: String
  public var description: String { "\(path):\(line): not a valid record (\(reason)); was the file edited?" }
}

/// Appends records to a results file, one flushed line per record, so a crash loses at most
/// the line being written (which the next reader detects and drops).
///
/// The actor runs on `BlockingIOExecutor`'s thread, not on Swift's cooperative pool: each append
/// ends in fsync(2), which can block for long on a busy parallel file system, and a blocked pool
/// thread would stall every other task of the worker (there is one per core).
public actor AppendOnlyFile {
  public nonisolated var unownedExecutor: UnownedSerialExecutor { BlockingIOExecutor.shared.asUnownedSerialExecutor() }
  private let handle: FileHandle
  private let encoder = JSONLines.lineEncoder()
  public let path: String

  /// Opens `path` for appending, first cutting off a torn last line left by a crash.
  public init(path: String, intactBytes: Int) throws {
    if !FileManager.default.fileExists(atPath: path) {
      let fd = RunFileModes.open(path, flags: O_WRONLY | O_CLOEXEC)  // 0600, or 0640 in a shared run
      if fd >= 0 { close(fd) }
    }
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(intactBytes))
    try handle.seekToEnd()
    self.handle = handle
    self.path = path
  }

  public func append<T: Encodable>(_ value: T) throws {
    var data = try encoder.encode(value)
    data.append(UInt8(ascii: "\n"))
    try handle.write(contentsOf: data)
    try handle.synchronize()
  }

  deinit { try? handle.close() }
}
