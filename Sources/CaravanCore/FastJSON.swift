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
  /// A type read from a `FastJSON` value as JSONDecoder reads it; `init(parsed:)` is nil where
  /// JSONDecoder would fail or might decide otherwise, and the caller then decodes with it.
  public protocol Readable: Decodable {
    init?(parsed value: JSONValue)
  }

  /// A JSON value, read here where it can be and by JSONDecoder otherwise; nil when it is not JSON.
  public static func value(_ data: Data) -> JSONValue? {
    parse(data) ?? (try? JSONDecoder().decode(JSONValue.self, from: data))
  }

  /// A line of a JSON Lines file as `type`: through `FastJSON` when it can, else JSONDecoder.
  public static func decode<T: Decodable>(_ type: T.Type, from line: Data, decoder: JSONDecoder) throws -> T {
    if let readable = type as? any Readable.Type, let value = parse(line).flatMap(readable.init(parsed:)) as? T { return value }
    return try decoder.decode(type, from: line)
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
    private mutating func string() -> String? {
      index += 1
      let start = index
      var ascii = true
      // Most text has no escapes: find the closing quote and make the String from the bytes.
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
    private mutating func number() -> JSONValue? {
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
      // strtod reads the token (JSON's number grammar is a subset of its own) and rounds
      // correctly, as JSONDecoder does.
      guard token.count < 64 else { return nil }
      let double = withUnsafeTemporaryAllocation(of: CChar.self, capacity: token.count + 1) { buffer -> Double in
        for (offset, byte) in token.enumerated() { buffer[offset] = CChar(bitPattern: byte) }
        buffer[token.count] = 0
        return strtod(buffer.baseAddress!, nil)
      }
      guard double.isFinite, double.rounded(.towardZero) != double else { return nil }
      return .double(double)
    }

    private mutating func digits() -> Int {
      let start = index
      while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
      return index - start
    }

    private mutating func literal(_ word: StaticString) -> Bool {
      let count = word.utf8CodeUnitCount
      guard index + count <= bytes.count else { return false }
      for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
      index += count
      return true
    }

    private mutating func take(_ byte: UInt8) -> Bool {
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
