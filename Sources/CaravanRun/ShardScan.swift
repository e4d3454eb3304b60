import CaravanStorage
import Foundation

/// Pass 1 of collect for one shard: where the kept record of each item starts. A shard taken
/// over (dynamic distribution) has a results file per generation; they are read in order.
///
/// Only `seq` and `status` are read, from the line's bytes: memory per shard is a few integers
/// per item, whatever the size of the records.
struct ShardScan: Sendable {
  var kept: KeptRecords
  /// By item (its place in the shard), for the items that have them: how many records count
  /// towards it beyond the first. Records of an item after an ok one are work done twice (the
  /// newest ok one is kept); a record after an error one is a retry (`caravan resume
  /// --retry-errors`), which replaces it.
  var extraRecords: [Int: Int]
  /// Lines whose `seq` is not one of this shard's items (a damaged or foreign results file).
  var unexpected: Int

  init(items: Int, firstSeq: Int, resultFiles paths: [String]) {
    var places = [KeptRecords.Place](repeating: .none, count: items)
    // Only the items with an error record or a second record have an entry: a few, so they
    // cost no memory per item.
    var latestIsError: [Int: Bool] = [:]
    var extra: [Int: Int] = [:]
    var unexpected = 0
    for (fileIndex, path) in paths.enumerated() {
      var reader = LineReader(path: path)
      while reader.nextLine({ offset, line in
        // A line too long for the table (or too far into its file) cannot be a record Caravan wrote.
        let (seq, isError) = Self.seqAndStatus(in: line)
        guard let seq, seq >= firstSeq, seq - firstSeq < items, let length = Int32(exactly: line.count),
          let place = KeptRecords.Place(offset: offset, length: length, file: UInt16(fileIndex))
        else {
          unexpected += 1
          return
        }
        let index = seq - firstSeq
        if places[index].offset >= 0 {
          let replacesAnError = latestIsError[index] ?? false
          if !replacesAnError { extra[index, default: 0] += 1 }
          // An error never replaces an ok record (another generation's holder may have failed
          // where the first succeeded).
          if isError, !replacesAnError { return }
          latestIsError[index] = isError
        } else if isError {
          latestIsError[index] = true
        }
        places[index] = place
      }) {}
    }
    (kept, extraRecords, self.unexpected) = (KeptRecords(places: places, resultFiles: paths), extra, unexpected)
  }

  /// A record line's top-level `seq` and whether its top-level `status` is "error", read from
  /// its bytes in one pass without decoding it. Keys inside `meta`, `options` or `parsed` (a
  /// prompt's labels may well have a `seq` or a `status`) are not the record's: only keys at
  /// the object's first level count. Texts are passed over with memchr; a quote inside one is
  /// escaped. Nil `seq` where there is none, or it is not a whole number of at most 18 digits.
  static func seqAndStatus(in bytes: UnsafeRawBufferPointer) -> (seq: Int?, isError: Bool) {
    guard let base = bytes.baseAddress else { return (nil, false) }
    let count = bytes.count
    var index = 0, depth = 0
    var seq: Int?, isError = false, seenSeq = false, seenStatus = false
    /// The index of the quote that ends the text starting at `from`.
    func closingQuote(from: Int) -> Int? {
      var from = from
      while from < count, let found = memchr(base + from, Int32(UInt8(ascii: "\"")), count - from) {
        let at = base.distance(to: UnsafeRawPointer(found))
        var backslashes = 0
        while at - backslashes - 1 >= 0, bytes[at - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
        if backslashes % 2 == 0 { return at }
        from = at + 1
      }
      return nil
    }
    func skipSpaces(_ at: inout Int) {
      while at < count, bytes[at] == 0x20 || bytes[at] == 0x09 { at += 1 }
    }
    while index < count, !(seenSeq && seenStatus) {
      switch bytes[index] {
      case UInt8(ascii: "\""):
        guard let end = closingQuote(from: index + 1) else { return (seq, isError) }
        let key = UnsafeRawBufferPointer(rebasing: bytes[index + 1..<end])
        index = end + 1
        guard depth == 1 else { continue }
        var value = index
        skipSpaces(&value)
        guard value < count, bytes[value] == UInt8(ascii: ":") else { continue }
        value += 1
        skipSpaces(&value)
        if !seenSeq, key.count == 3, key.elementsEqual("seq".utf8) {
          seenSeq = true
          var number = 0, digits = 0
          while value + digits < count, bytes[value + digits] >= 48, bytes[value + digits] <= 57, digits < 19 {
            number = number &* 10 &+ Int(bytes[value + digits] - 48)
            digits += 1
          }
          // 18 digits always fit in an Int; a longer number is no seq Caravan wrote.
          seq = digits > 0 && digits <= 18 ? number : nil
        } else if !seenStatus, key.count == 6, key.elementsEqual("status".utf8) {
          seenStatus = true
          isError = value + 7 <= count && bytes[value..<value + 7].elementsEqual(#""error""#.utf8)
        }
        index = value
      case UInt8(ascii: "{"), UInt8(ascii: "["):
        depth += 1
        index += 1
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        depth -= 1
        index += 1
      default:
        index += 1
      }
    }
    return (seq, isError)
  }
}
