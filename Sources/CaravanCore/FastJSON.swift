import Foundation

/// A JSON reader for the hot paths: prompt lines at plan time and result records at collect,
/// where JSONDecoder took a third to a half of the time.
///
/// It gives the JSONValue that `JSONDecoder().decode(JSONValue.self, from:)` gives. Where it
/// cannot be sure to agree it returns nil, and the caller decodes with JSONDecoder, which then
/// also words the error:
/// - a number with a fraction or exponent whose value is whole (JSONDecoder makes `1.0` and
///   `1e2` an Int), one out of Int's range, or one a Double cannot hold;
/// - a `\u` escape of a lone surrogate; text that is not UTF-8;
/// - a key twice in one object; nesting deeper than 64;
/// - anything that is not JSON.
public enum FastJSON {
  /// A type read from a line's bytes as JSONDecoder reads it: `read` is nil where JSONDecoder
  /// would fail or might decide otherwise, and the caller then decodes with it. Types read in
  /// bulk read their members with `Members`, the others `parse` the line.
  public protocol Readable: Decodable {
    static func read(_ bytes: UnsafeRawBufferPointer) -> Self?
  }

  /// A JSON value, read here where it can be and by JSONDecoder otherwise; nil when it is not JSON.
  public static func value(_ data: Data) -> JSONValue? {
    parse(data) ?? (try? JSONDecoder().decode(JSONValue.self, from: data))
  }

  /// A line of a JSON Lines file as `type`: through `FastJSON` when it can, else JSONDecoder.
  public static func decode<T: Decodable>(_ type: T.Type, from line: Data, decoder: JSONDecoder) throws -> T {
    if let readable = type as? any Readable.Type, let value = line.withUnsafeBytes({ readable.read($0) }) as? T { return value }
    return try decoder.decode(type, from: line)
  }

  /// The same for a type known to be `Readable`, without a cast at run time (collect reads a
  /// million lines this way).
  public static func decode<T: Readable>(_ type: T.Type, from line: Data, decoder: JSONDecoder) throws -> T {
    if let value = line.withUnsafeBytes({ T.read($0) }) { return value }
    return try decoder.decode(type, from: line)
  }

  /// The keys a `Members` read keeps, grouped by length so that a key in the text is matched
  /// by its bytes, without a String or a hash.
  public final class FieldNames: Sendable {
    let names: [String]
    private let utf8: [[UInt8]]
    /// Each name's bytes as three words (zero past its end; names of more than 24 bytes are
    /// compared byte by byte): `words[3 * name ..< 3 * name + 3]`.
    private let words: [UInt64]
    /// The names of each length: `table[length * width ..< (length + 1) * width]`, -1 past
    /// the last. Flat arrays, so a lookup retains nothing.
    private let table: [Int]
    private let width: Int
    /// The name that sorts first by its bytes, and after each name the one that sorts next (-1
    /// after the last): the order of the keys of a line that a JSON encoder wrote with its keys
    /// sorted, as Caravan's records and plan lines are.
    let firstInOrder: Int
    let nextInOrder: [Int]
    /// Each name's length in bytes.
    let lengths: [Int]

    /// At most 64 names (a `Members` read keeps one bit per name).
    public init(_ names: [String]) {
      precondition(names.count <= 64, "FieldNames holds at most 64 names")
      self.names = names
      utf8 = names.map { Array($0.utf8) }
      lengths = utf8.map(\.count)
      words = utf8.flatMap { name in
        let packed: (UInt64, UInt64, UInt64) = name.withUnsafeBytes { Self.words($0) } ?? (0, 0, 0)
        return [packed.0, packed.1, packed.2]
      }
      let lengths = (utf8.map(\.count).max() ?? 0) + 1
      var byLength = [[Int]](repeating: [], count: lengths)
      for (index, name) in utf8.enumerated() { byLength[name.count].append(index) }
      let width = max(1, byLength.map(\.count).max() ?? 1)
      self.width = width
      table = byLength.flatMap { $0 + [Int](repeating: -1, count: width - $0.count) }
      let bytes = utf8
      let order = bytes.indices.sorted { bytes[$0].lexicographicallyPrecedes(bytes[$1]) }
      var next = [Int](repeating: -1, count: names.count)
      for (place, name) in order.enumerated().dropLast() { next[name] = order[place + 1] }
      (firstInOrder, nextInOrder) = (order.first ?? -1, next)
    }

    /// Whether the name `slot` is written in `bytes` at `start`, followed by its closing quote.
    func isWritten(_ slot: Int, at start: Int, in bytes: UnsafeRawBufferPointer) -> Bool {
      let end = start + lengths[slot]
      guard end < bytes.count, bytes[end] == UInt8(ascii: "\""), let keyWords = Self.words(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
      else { return false }
      return matches(slot, keyWords)
    }

    private func matches(_ name: Int, _ keyWords: (UInt64, UInt64, UInt64)) -> Bool {
      words[3 * name] == keyWords.0 && words[3 * name + 1] == keyWords.1 && words[3 * name + 2] == keyWords.2
    }

    /// Loaded with overlapping unaligned loads, not copied into memory: loading words just
    /// written byte by byte stalls the CPU (no store forwarding), and that stall was half of a
    /// lookup's time.
    private static func words(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64)? {
      let count = bytes.count
      guard count > 0 else { return (0, 0, 0) }
      guard count <= 24, let base = bytes.baseAddress else { return nil }
      return (
        base.littleEndianWord(count: min(count, 8)),
        count > 8 ? (base + 8).littleEndianWord(count: min(count - 8, 8)) : 0,
        count > 16 ? (base + 16).littleEndianWord(count: count - 16) : 0
      )
    }

    /// Keys are short: compared as three words, a match costs about three loads.
    func index(of key: UnsafeRawBufferPointer) -> Int? {
      let first = key.count * width
      guard first + width <= table.count else { return nil }
      guard let keyWords = Self.words(key) else {
        return table[first..<first + width].first { $0 >= 0 && utf8[$0].withUnsafeBytes { $0.elementsEqual(key) } }
      }
      for slot in first..<first + width {
        let name = table[slot]
        guard name >= 0 else { return nil }
        if matches(name, keyWords) { return name }
      }
      return nil
    }

    /// The name equal to `name` as text (Unicode's canonical equivalence, as a dictionary
    /// compares keys): the same bytes, or beyond ASCII, an equal name of other bytes.
    public func index(of name: String) -> Int? {
      var name = name
      if let found = name.withUTF8({ index(of: UnsafeRawBufferPointer($0)) }) { return found }
      guard name.utf8.contains(where: { $0 >= 0x80 }) else { return nil }
      return names.firstIndex(of: name)
    }
  }

  /// A top-level object read member by member, each value read as the caller's type needs it:
  /// no dictionary, and no `JSONValue` for a member read as text or a number. The types read in
  /// bulk (collect's records and plan lines) read themselves this way.
  ///
  /// `next()` gives each member's place in `names`, and the caller then reads its value once,
  /// with one of the typed reads or `skip()`. Every read is nil where `parse` would be nil or
  /// where JSONDecoder would not give that type; the caller then gives up and decodes with
  /// JSONDecoder, which also words the error. So a type read this way is read as JSONDecoder
  /// reads it, or not at all.
  public struct Members {
    private var reader: Reader
    private let names: FieldNames
    /// The names met so far, a bit each (a line per record: no array to allocate).
    private var seen: UInt64 = 0
    /// Keys not in `names` met so far: a key twice is refused, as `parse` refuses it.
    private var others: [String] = []
    private var started = false
    /// The name the next key most likely is: the one after the last key, in sorted order.
    private var expected: Int
    /// True once `next()` found the end of a well-formed object with nothing after it.
    public private(set) var isComplete = false

    public init(_ bytes: UnsafeRawBufferPointer, _ names: FieldNames) {
      reader = Reader(bytes: bytes)
      self.names = names
      expected = names.firstInOrder
    }

    /// The next member's place in `names`, or -1 for another key (pass its value with `skip`);
    /// nil after the last member (`isComplete`) or where the text is not an object that
    /// `parse` reads, a key twice included.
    public mutating func next() -> Int? {
      reader.skipSpace()
      if !started {
        started = true
        guard reader.take(UInt8(ascii: "{")) else { return nil }
        reader.skipSpace()
        if reader.take(UInt8(ascii: "}")) { return end() }
      } else {
        if reader.take(UInt8(ascii: "}")) { return end() }
        guard reader.take(UInt8(ascii: ",")) else { return nil }
        reader.skipSpace()
      }
      guard let slot = key() else { return nil }
      reader.skipSpace()
      guard reader.take(UInt8(ascii: ":")) else { return nil }
      return slot
    }

    private mutating func end() -> Int? {
      reader.skipSpace()
      isComplete = reader.index == reader.bytes.count
      return nil
    }

    /// The key at the reader, matched by its bytes; one with an escape or beyond ASCII by its
    /// text (a dictionary compares keys as Unicode text). Nil for a key met before.
    private mutating func key() -> Int? {
      let bytes = reader.bytes
      guard reader.index < bytes.count, bytes[reader.index] == UInt8(ascii: "\"") else { return nil }
      let start = reader.index + 1
      // Keys written in sorted order (as Caravan writes its lines) are matched at a glance.
      if expected >= 0, names.isWritten(expected, at: start, in: bytes) {
        let slot = expected
        reader.index = start + names.lengths[slot] + 1
        return met(slot)
      }
      var end = start
      while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20, bytes[end] < 0x80 { end += 1 }
      let slot: Int
      if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
        reader.index = end + 1
        guard let found = names.index(of: UnsafeRawBufferPointer(rebasing: bytes[start..<end])) else {
          return other(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
        }
        slot = found
      } else {
        guard let text = reader.string() else { return nil }
        guard let found = names.index(of: text) else { return other(text) }
        slot = found
      }
      return met(slot)
    }

    /// `slot`, now met; nil when it was met before (a key twice).
    private mutating func met(_ slot: Int) -> Int? {
      let bit: UInt64 = 1 << UInt64(slot)
      guard seen & bit == 0 else { return nil }
      seen |= bit
      expected = names.nextInOrder[slot]
      return slot
    }

    private mutating func other(_ key: String) -> Int? {
      guard !others.contains(key) else { return nil }
      others.append(key)
      return -1
    }

    /// Any value, as `parse` reads it.
    public mutating func value() -> JSONValue? { reader.value(depth: 1) }

    /// Passes over a value; false where `parse` would refuse it.
    public mutating func skip() -> Bool { reader.skip(depth: 1) }

    /// Whether the value is `null`, which it then passes over (another value is not).
    public mutating func isNull() -> Bool {
      reader.skipSpace()
      return reader.literal("null")
    }

    /// Text; nil for null or another type.
    public mutating func string() -> String? {
      reader.skipSpace()
      guard reader.index < reader.bytes.count, reader.bytes[reader.index] == UInt8(ascii: "\"") else { return nil }
      return reader.string()
    }

    /// Text or null (`.some(nil)`); nil for another type.
    public mutating func optionalString() -> String?? {
      isNull() ? .some(nil) : string().map { $0 }
    }

    /// A whole number in Int's range, written without a fraction or exponent.
    public mutating func int() -> Int? {
      reader.skipSpace()
      guard case .int(let number)? = reader.number() else { return nil }
      return number
    }

    public mutating func optionalInt() -> Int?? {
      isNull() ? .some(nil) : int().map { $0 }
    }

    /// A number as a Double (JSONDecoder reads a whole number as one too).
    public mutating func double() -> Double? {
      reader.skipSpace()
      switch reader.number() {
      case .int(let number)?: return Double(number)
      case .double(let number)?: return number
      default: return nil
      }
    }

    public mutating func optionalDouble() -> Double?? {
      isNull() ? .some(nil) : double().map { $0 }
    }

    public mutating func optionalBool() -> Bool?? {
      if isNull() { return .some(nil) }
      if reader.literal("true") { return true }
      if reader.literal("false") { return false }
      return nil
    }
  }

  public static func parse(_ data: Data) -> JSONValue? {
    data.withUnsafeBytes { parse($0) }
  }

  public static func parse(_ text: String) -> JSONValue? {
    var text = text
    return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
  }

  public static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
    var reader = Reader(bytes: bytes)
    guard let value = reader.value(depth: 0) else { return nil }
    reader.skipSpace()
    return reader.index == bytes.count ? value : nil
  }

  private struct Reader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
      self.bytes = bytes
    }

    mutating func value(depth: Int) -> JSONValue? {
      guard depth < 64 else { return nil }
      skipSpace()
      guard index < bytes.count else { return nil }
      switch bytes[index] {
      case UInt8(ascii: "{"): return object(depth: depth)
      case UInt8(ascii: "["): return array(depth: depth)
      case UInt8(ascii: "\""): return string().map(JSONValue.string)
      case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
      case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
      case UInt8(ascii: "n"): return literal("null") ? .null : nil
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
      default: return nil
      }
    }

    private mutating func object(depth: Int) -> JSONValue? {
      index += 1
      var object: [String: JSONValue] = [:]
      skipSpace()
      if take(UInt8(ascii: "}")) { return .object(object) }
      while true {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
        skipSpace()
        guard take(UInt8(ascii: ":")), let value = value(depth: depth + 1),
          object.updateValue(value, forKey: key) == nil
        else { return nil }
        skipSpace()
        if take(UInt8(ascii: ",")) { continue }
        return take(UInt8(ascii: "}")) ? .object(object) : nil
      }
    }

    /// Passes over a value, true where `value(depth:)` would give one, making no value where
    /// it can: ASCII strings and numbers are checked in place, and an object whose keys are
    /// all ASCII without escapes has them compared byte for byte. Anything else is read.
    mutating func skip(depth: Int) -> Bool {
      guard depth < 64 else { return false }
      skipSpace()
      guard index < bytes.count else { return false }
      let start = index
      switch bytes[index] {
      case UInt8(ascii: "\""):
        index += 1
        while index < bytes.count {
          let byte = bytes[index]
          if byte == UInt8(ascii: "\"") {
            index += 1
            return true
          }
          if byte == UInt8(ascii: "\\") || byte >= 0x80 { break }
          if byte < 0x20 { return false }
          index += 1
        }
        index = start
        return string() != nil
      case UInt8(ascii: "["):
        index += 1
        skipSpace()
        if take(UInt8(ascii: "]")) { return true }
        while true {
          guard skip(depth: depth + 1) else { return false }
          skipSpace()
          if take(UInt8(ascii: ",")) { continue }
          return take(UInt8(ascii: "]"))
        }
      case UInt8(ascii: "{"):
        index += 1
        var keys: [UnsafeRawBufferPointer] = []
        skipSpace()
        if take(UInt8(ascii: "}")) { return true }
        while true {
          skipSpace()
          guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
          let keyStart = index + 1
          guard skip(depth: depth + 1) else { return false }
          let key = UnsafeRawBufferPointer(rebasing: bytes[keyStart..<index - 1])
          // Text equality of other keys is Unicode's: leave those objects to `value`.
          guard keys.count < 32, key.allSatisfy({ $0 < 0x80 && $0 != UInt8(ascii: "\\") }) else {
            index = start
            return value(depth: depth) != nil
          }
          guard !keys.contains(where: { $0.elementsEqual(key) }) else { return false }
          keys.append(key)
          skipSpace()
          guard take(UInt8(ascii: ":")), skip(depth: depth + 1) else { return false }
          skipSpace()
          if take(UInt8(ascii: ",")) { continue }
          return take(UInt8(ascii: "}"))
        }
      default:
        return value(depth: depth) != nil
      }
    }

    private mutating func array(depth: Int) -> JSONValue? {
      index += 1
      var array: [JSONValue] = []
      skipSpace()
      if take(UInt8(ascii: "]")) { return .array(array) }
      while true {
        guard let value = value(depth: depth + 1) else { return nil }
        array.append(value)
        skipSpace()
        if take(UInt8(ascii: ",")) { continue }
        return take(UInt8(ascii: "]")) ? .array(array) : nil
      }
    }

    /// A string; `index` is at its opening quote.
    mutating func string() -> String? {
      index += 1
      let start = index
      var ascii = true
      // Most text has no escapes: find the closing quote and make the String from the bytes,
      // passing over eight bytes at a time while none of them is a quote, a backslash or a
      // control character.
      if let base = bytes.baseAddress {
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
          let word = (base + index).littleEndianWord(count: 8)
          guard Self.specialBytes(word) == 0 else { break }
          high |= word
          index += 8
        }
        ascii = high & 0x8080_8080_8080_8080 == 0
      }
      while index < bytes.count {
        let byte = bytes[index]
        if byte == UInt8(ascii: "\"") {
          defer { index += 1 }
          return Self.text(UnsafeRawBufferPointer(rebasing: bytes[start..<index]), ascii: ascii)
        }
        if byte == UInt8(ascii: "\\") { break }
        if byte < 0x20 { return nil }
        if byte >= 0x80 { ascii = false }
        index += 1
      }
      var text = [UInt8](bytes[start..<index])
      while index < bytes.count {
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""):
          return text.withUnsafeBytes { Self.text($0, ascii: ascii) }
        case UInt8(ascii: "\\"):
          guard index < bytes.count else { return nil }
          let escaped = bytes[index]
          index += 1
          switch escaped {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
          case UInt8(ascii: "b"): text.append(0x08)
          case UInt8(ascii: "f"): text.append(0x0C)
          case UInt8(ascii: "n"): text.append(0x0A)
          case UInt8(ascii: "r"): text.append(0x0D)
          case UInt8(ascii: "t"): text.append(0x09)
          case UInt8(ascii: "u"):
            guard let scalar = unicodeEscape() else { return nil }
            text.append(contentsOf: String(Character(scalar)).utf8)
          default: return nil
          }
        case 0..<0x20:
          return nil
        default:
          if byte >= 0x80 { ascii = false }
          text.append(byte)
        }
      }
      return nil
    }

    /// The top bit of each byte of `word` that is a quote, a backslash or below 0x20: the bytes
    /// that end the plain run of a JSON text.
    static func specialBytes(_ word: UInt64) -> UInt64 {
      let ones: UInt64 = 0x0101_0101_0101_0101, low7 = ones &* 0x7F, tops = ones &* 0x80
      func zeroBytes(_ x: UInt64) -> UInt64 { ~(((x & low7) &+ low7) | x) & tops }
      let control = ~(((word & low7) &+ ones &* 0x60) | word) & tops
      return zeroBytes(word ^ (ones &* 0x22)) | zeroBytes(word ^ (ones &* 0x5C)) | control
    }

    private static func text(_ bytes: UnsafeRawBufferPointer, ascii: Bool) -> String? {
      let utf8 = bytes.assumingMemoryBound(to: UInt8.self)
      return ascii ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self)
    }

    /// The scalar of `\uXXXX` (after the `u`), joining a surrogate pair; nil for a lone surrogate.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
      guard let first = hex4() else { return nil }
      switch first {
      case 0xD800...0xDBFF:
        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
        index += 2
        guard let second = hex4(), (0xDC00...0xDFFF).contains(second) else { return nil }
        return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
      case 0xDC00...0xDFFF:
        return nil
      default:
        return Unicode.Scalar(first)
      }
    }

    private mutating func hex4() -> UInt32? {
      guard index + 4 <= bytes.count else { return nil }
      var value: UInt32 = 0
      for _ in 0..<4 {
        let byte = bytes[index]
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
        default: return nil
        }
        value = value << 4 | UInt32(digit)
        index += 1
      }
      return value
    }

    /// A number as JSONValue's decoding types it: a whole number in Int's range is an Int;
    /// a fraction or exponent whose value is not whole is a Double; the rest is left to
    /// JSONDecoder.
    mutating func number() -> JSONValue? {
      let start = index
      var whole = true
      _ = take(UInt8(ascii: "-"))
      guard index < bytes.count else { return nil }
      if bytes[index] == UInt8(ascii: "0") {
        index += 1
      } else {
        guard digits() > 0 else { return nil }
      }
      if take(UInt8(ascii: ".")) {
        whole = false
        guard digits() > 0 else { return nil }
      }
      if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
        whole = false
        index += 1
        if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
        guard digits() > 0 else { return nil }
      }
      let token = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
      if whole {
        var value = 0
        let negative = token[0] == UInt8(ascii: "-")
        for byte in token.dropFirst(negative ? 1 : 0) {
          let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
          let (plus, overflow2) = negative ? times.subtractingReportingOverflow(Int(byte - 48)) : times.addingReportingOverflow(Int(byte - 48))
          guard !overflow1, !overflow2 else { return nil }
          value = plus
        }
        return .int(value)
      }
      let double: Double
      if let exact = Self.exactDouble(token) {
        double = exact
      } else {
        // strtod reads the token (JSON's number grammar is a subset of its own) and rounds
        // correctly, as JSONDecoder does.
        guard token.count < 64 else { return nil }
        double = withUnsafeTemporaryAllocation(of: CChar.self, capacity: token.count + 1) { buffer -> Double in
          for (offset, byte) in token.enumerated() { buffer[offset] = CChar(bitPattern: byte) }
          buffer[token.count] = 0
          return strtod(buffer.baseAddress!, nil)
        }
      }
      guard double.isFinite, double.rounded(.towardZero) != double else { return nil }
      return .double(double)
    }

    /// Powers of ten a Double holds exactly.
    private static let powersOfTen: [Double] = [
      1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// A number token's value without strtod, where one multiplication or division of two
    /// exact Doubles gives it (digits below 2^53 and a power of ten up to 22: Clinger's fast
    /// path), which IEEE arithmetic rounds correctly; nil otherwise. Timings such as `1.5`
    /// are read this way.
    static func exactDouble(_ token: UnsafeRawBufferPointer) -> Double? {
      var digits: UInt64 = 0, scale = 0, exponent = 0, exponentSign = 1, negative = false
      var inFraction = false, inExponent = false
      for byte in token {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
          let digit = UInt64(byte - UInt8(ascii: "0"))
          if inExponent {
            exponent = exponent * 10 + Int(digit)
            guard exponent < 1000 else { return nil }
          } else {
            digits = digits * 10 + digit
            guard digits < 1 << 53 else { return nil }
            if inFraction { scale -= 1 }
          }
        case UInt8(ascii: "."): inFraction = true
        case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
        case UInt8(ascii: "-"): if inExponent { exponentSign = -1 } else { negative = true }
        default: break  // "+"
        }
      }
      let power = scale + exponentSign * exponent
      guard (-22...22).contains(power) else { return nil }
      let magnitude = power < 0 ? Double(digits) / powersOfTen[-power] : Double(digits) * powersOfTen[power]
      return negative ? -magnitude : magnitude
    }

    private mutating func digits() -> Int {
      let start = index
      while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
      return index - start
    }

    mutating func literal(_ word: StaticString) -> Bool {
      let count = word.utf8CodeUnitCount
      guard index + count <= bytes.count else { return false }
      for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
      index += count
      return true
    }

    mutating func take(_ byte: UInt8) -> Bool {
      guard index < bytes.count, bytes[index] == byte else { return false }
      index += 1
      return true
    }

    mutating func skipSpace() {
      while index < bytes.count {
        switch bytes[index] {
        case 0x20, 0x09, 0x0A, 0x0D: index += 1
        default: return
        }
      }
    }
  }
}
