import Foundation

/// Writes a 2-D float32 array as a `.npy` file (NumPy's format 1.0) row by row, so a matrix of
/// any height is written in the memory of one row: `numpy.load` reads it as `rows × columns`.
///
/// The header has a fixed size (128 bytes), written once the width is known and again with the
/// final shape on `close()`.
public final class NumpyMatrixWriter {
  public let path: String
  private let handle: FileHandle
  public private(set) var rows = 0
  public private(set) var columns: Int?
  /// Rows of NaN owed before the width was known (items without a vector at the start).
  private var pendingEmptyRows = 0

  public init(path: String) throws {
    self.path = path
    guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
      let handle = FileHandle(forWritingAtPath: path)
    else { throw WriteFailure(path: path, code: errno) }
    self.handle = handle
  }

  /// Appends one row; nil is a row of NaN (an item without a vector).
  public func append(_ row: [Float]?) throws {
    guard let row else {
      if let columns { try write([Float](repeating: .nan, count: columns)) } else { pendingEmptyRows += 1 }
      rows += 1
      return
    }
    if let columns {
      guard row.count == columns else { throw NumpyShapeError(row: rows, width: row.count, expected: columns) }
    } else {
      columns = row.count
      try write(header(rows: 0, columns: row.count))
      for _ in 0..<pendingEmptyRows { try write([Float](repeating: .nan, count: row.count)) }
      pendingEmptyRows = 0
    }
    try write(row)
    rows += 1
  }

  /// Writes the final shape into the header. Returns false (and removes the file) when no row
  /// had a vector, so there is no width to give.
  @discardableResult
  public func close() throws -> Bool {
    defer { try? handle.close() }
    guard let columns else {
      try? handle.close()
      unlink(path)
      return false
    }
    do {
      try handle.seek(toOffset: 0)
      try handle.write(contentsOf: header(rows: rows, columns: columns))
    } catch {
      throw WriteFailure(path: path, error: error)
    }
    return true
  }

  /// Magic, version 1.0, header length, and the header dict padded with spaces to 128 bytes.
  func header(rows: Int, columns: Int) -> Data {
    var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
    let length = 128 - 10
    text += String(repeating: " ", count: max(0, length - text.utf8.count - 1)) + "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    data.append(UInt8(length & 0xFF))
    data.append(UInt8(length >> 8))
    data.append(Data(text.utf8))
    return data
  }

  private func write(_ row: [Float]) throws {
    let bytes = row.map(\.bitPattern.littleEndian).withUnsafeBytes { Data($0) }
    try write(bytes)
  }

  private func write(_ data: Data) throws {
    do { try handle.write(contentsOf: data) } catch { throw WriteFailure(path: path, error: error) }
  }
}

/// A vector whose length differs from the earlier ones.
public struct NumpyShapeError: Error, CustomStringConvertible {
  public var row: Int
  public var width: Int
  public var expected: Int
  public var description: String { "embedding \(row) has \(width) dimensions, the ones before it \(expected): were the runs' servers serving different models?" }
}
