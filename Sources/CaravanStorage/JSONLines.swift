import CaravanCore
import Foundation

/// Reading and appending JSON Lines files, the format of shards, results and merged output.
public enum JSONLines {
  /// Decodes each complete line; a torn last line (a crash mid-write) is skipped, not an error.
  /// Returns the values and the byte length of the intact prefix.
  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> (values: [T], intactBytes: Int) {
    guard FileManager.default.fileExists(atPath: path) else { return ([], 0) }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw RunDirectoryError("cannot read \(path): \(String(cString: strerror(errno)))")
    }
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
          values.append(try FastJSON.decode(T.self, from: line, decoder: decoder))
        } catch {
          throw JSONLinesError(path: path, line: lineNumber, reason: decodingReason(error))
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
    try data.writeAtomically(to: path)
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

/// Appends records to a results file, one line per record, so a crash loses at most the line
/// being written (which the next reader detects and drops).
///
/// Each line is written (write(2)) before `append` returns, so it survives the worker being
/// killed; the fsync that makes it survive the node dying comes at most `syncDelay` later and is
/// shared by every line written meanwhile (a group commit). A record lost with its node has no
/// line, so resume sends its item again: still exactly one record per item. One fsync per record
/// cost a refill of the server's slots up to an fsync's time each (milliseconds, far more on a
/// busy parallel file system) and a system call's CPU per request.
///
/// The write runs on the caller's thread (a page-cache write; the worker's requests run on one
/// thread, and a hop to another thread and back for every record was a third of its context
/// switches). The fsync, which can block for long on a busy parallel file system, runs on a
/// queue of its own, never on the caller's thread or Swift's cooperative pool.
///
/// `@unchecked Sendable`: the file's offset, the encoder and the sync state are used only under
/// `lock`; fsync runs outside it (it may run while lines are written).
public final class AppendOnlyFile: @unchecked Sendable {
  private let lock = NSLock()
  private let handle: FileHandle
  private let encoder = JSONLines.lineEncoder()
  public let path: String
  /// How long a written line may wait for its fsync; zero syncs every line before `append` returns.
  public let syncDelay: Duration
  /// Lines are written that no fsync has covered yet, and one is scheduled.
  private var syncScheduled = false
  /// A deferred fsync that failed: every later append fails with it, so the worker stops.
  private var syncFailure: WriteFailure?
  /// Where deferred fsyncs run, one at a time.
  private static let syncQueue = DispatchQueue(label: "caravan-fsync")

  /// Opens `path` for appending, first cutting off a torn last line left by a crash.
  public init(path: String, intactBytes: Int, syncDelay: Duration = .milliseconds(5)) throws {
    if !FileManager.default.fileExists(atPath: path) {
      let fd = RunFileModes.open(path, flags: O_WRONLY | O_CLOEXEC)  // 0600, or 0640 in a shared run
      if fd >= 0 { close(fd) }
    }
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(intactBytes))
    try handle.seekToEnd()
    self.handle = handle
    self.path = path
    self.syncDelay = max(.zero, syncDelay)
  }

  /// Appends one line. When the write fails (a full file system), the file is cut back to
  /// where the line began, so no torn line sits between records a later run appends, and the
  /// failure is a `WriteFailure`.
  public func append<T: Encodable>(_ value: T) async throws {
    try appendLine(value)
  }

  private func appendLine<T: Encodable>(_ value: T) throws {
    let scheduleSync: Bool = try lock.withLock {
      if let syncFailure { throw syncFailure }
      var data = try JSONFormats.line(value, encoder: encoder)
      data.append(UInt8(ascii: "\n"))
      let start = try handle.offset()
      do {
        try handle.write(contentsOf: data)
        if syncDelay == .zero { try handle.synchronize() }
      } catch {
        try? handle.truncate(atOffset: start)
        throw WriteFailure(path: path, error: error)
      }
      guard syncDelay > .zero, !syncScheduled else { return false }
      syncScheduled = true
      return true
    }
    // Holds the file until the fsync has run (at most syncDelay), never longer.
    if scheduleSync {
      Self.syncQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(syncDelay.nanoseconds))) { try? self.syncNow() }
    }
  }

  /// Makes every line written so far durable now (on the fsync queue).
  public func sync() async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
      Self.syncQueue.async { continuation.resume(with: Result { try self.syncNow() }) }
    }
  }

  private func syncNow() throws {
    try lock.withLock {
      if let syncFailure { throw syncFailure }
      syncScheduled = false
    }
    do { try handle.synchronize() } catch {
      let failure = WriteFailure(path: path, error: error)
      lock.withLock { syncFailure = failure }
      throw failure
    }
  }

  deinit {
    try? handle.synchronize()
    try? handle.close()
  }
}

/// What a decoding error says, in a line: the field's path and the problem, without Swift's
/// description of the error value.
public func decodingReason(_ error: any Error) -> String {
  func path(_ context: DecodingError.Context) -> String {
    let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    return keys.isEmpty ? "" : "\(keys): "
  }
  switch error as? DecodingError {
  case .keyNotFound(let key, let context)?: return "\(path(context))the key '\(key.stringValue)' is missing"
  case .typeMismatch(let type, let context)?: return "\(path(context))expected \(type)"
  case .valueNotFound(let type, let context)?: return "\(path(context))expected \(type), found null"
  case .dataCorrupted(let context)?: return "\(path(context))not valid JSON"
  case nil: return "\(error)"
  @unknown default: return "\(error)"
  }
}
