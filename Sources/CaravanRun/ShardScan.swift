import CaravanStorage
import Foundation

/// Pass 1 of collect for one shard: where the kept record of each item starts. A shard taken
/// over (dynamic distribution) has a results file per generation; they are read in order.
///
/// Only `seq` and `status` are read, from the line's bytes: memory per shard is a few integers
/// per item, whatever the size of the records.
struct ShardScan: Sendable {
  var kept: KeptRecords
  /// Per item: how many records count towards it. Records of an item after an ok one are work
  /// done twice (the newest ok one is kept); a record after an error one is a retry (`caravan
  /// resume --retry-errors`), which replaces it.
  var counts: [UInt16]
  /// Lines whose `seq` is not one of this shard's items (a damaged or foreign results file).
  var unexpected: Int

  init(items: Int, firstSeq: Int, resultFiles paths: [String]) {
    var kept = KeptRecords(
      offsets: [Int](repeating: -1, count: items), lengths: [Int32](repeating: 0, count: items),
      fileOf: [UInt16](repeating: 0, count: items), resultFiles: paths)
    var counts = [UInt16](repeating: 0, count: items)
    var latestIsError = [Bool](repeating: false, count: items)
    var unexpected = 0
    func note(_ offset: Int, _ line: UnsafeRawBufferPointer, inFile fileIndex: Int) {
      // A line too long for the table cannot be a record Caravan wrote.
      guard let seq = Self.sequenceNumber(in: line), seq >= firstSeq, seq - firstSeq < items, let length = Int32(exactly: line.count) else {
        unexpected += 1
        return
      }
      let index = seq - firstSeq
      if kept.offsets[index] < 0 || !latestIsError[index], counts[index] < .max { counts[index] += 1 }
      let isError = Self.statusIsError(in: line)
      // An error never replaces an ok record (another generation's holder may have failed
      // where the first succeeded).
      if isError, kept.offsets[index] >= 0, !latestIsError[index] { return }
      kept.offsets[index] = offset
      kept.lengths[index] = length
      kept.fileOf[index] = UInt16(fileIndex)
      latestIsError[index] = isError
    }
    for (fileIndex, path) in paths.enumerated() {
      var reader = LineReader(path: path)
      while reader.nextLine({ note($0, $1, inFile: fileIndex) }) != nil {}
    }
    (self.kept, self.counts, self.unexpected) = (kept, counts, unexpected)
  }

  /// The `seq` of a record line without decoding it.
  static func sequenceNumber(in bytes: UnsafeRawBufferPointer) -> Int? {
    guard var j = valueOffset(of: #""seq":"#, in: bytes) else { return nil }
    var value = 0, digits = 0
    while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 {
      // 18 digits always fit in an Int; a longer number is no seq Caravan wrote.
      guard digits < 18 else { return nil }
      value = value * 10 + Int(bytes[j] - 48)
      j += 1
      digits += 1
    }
    return digits > 0 ? value : nil
  }

  /// Whether a record line's status is "error", without decoding it.
  static func statusIsError(in bytes: UnsafeRawBufferPointer) -> Bool {
    guard let start = valueOffset(of: #""status":"#, in: bytes), start + 7 <= bytes.count else { return false }
    return bytes[start..<start + 7].elementsEqual(#""error""#.utf8)
  }

  /// Where the value of a key (given as `"name":`) starts in a record line, past any spaces.
  /// A quote inside a string value is escaped, so the key's bytes can only be the key itself.
  private static func valueOffset(of key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
    guard let base = bytes.baseAddress else { return nil }
    let count = key.utf8CodeUnitCount
    var from = 0
    // memchr to each quote, then compare the key there.
    while from + count <= bytes.count, let quote = memchr(base + from, Int32(UInt8(ascii: "\"")), bytes.count - from - count + 1) {
      let at = base.distance(to: UnsafeRawPointer(quote))
      if memcmp(base + at, key.utf8Start, count) == 0 {
        var index = at + count
        while index < bytes.count, bytes[index] == 32 { index += 1 }
        return index
      }
      from = at + 1
    }
    return nil
  }
}

/// A value computed on a thread of its own; `value()` waits for it.
final class Background<Value: Sendable>: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private var result: Value?
  private var finished: Value?

  init(_ work: @escaping @Sendable () -> Value) {
    let thread = Thread { [self] in
      result = work()
      done.signal()
    }
    thread.start()
  }

  /// Waits for the value the first time.
  func value() -> Value {
    if let finished { return finished }
    done.wait()
    guard let result else { preconditionFailure("the thread signals only after setting the result") }
    finished = result
    return result
  }
}
