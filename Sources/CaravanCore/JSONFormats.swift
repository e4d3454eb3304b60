import Foundation

/// The two JSON shapes Caravan writes: one value per line (shards, records, timing events), and
/// readable documents (the resolved spec, the manifest). Keys are sorted so files diff cleanly.
public enum JSONFormats {
  /// One compact value per line.
  public static func lineEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }

  /// An indented document for a person to read.
  public static func documentEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return encoder
  }
}

extension JSONFormats {
  /// Appends `text` as a JSON string, byte for byte what `lineEncoder()` writes for it, without
  /// an encoder when it can: text of printable ASCII and non-ASCII characters but no `"` or `\`
  /// is copied between quotes (JSONEncoder escapes only those two and control characters, and
  /// `lineEncoder()` leaves `/` alone). Anything else goes through the encoder.
  public static func appendString(_ text: String, to bytes: inout [UInt8], encoder: JSONEncoder) throws {
    var text = text
    let plain = text.withUTF8 { utf8 in
      utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0x7F }
    }
    guard plain else {
      bytes += try encoder.encode(text)
      return
    }
    bytes.append(UInt8(ascii: "\""))
    text.withUTF8 { bytes.append(contentsOf: $0) }
    bytes.append(UInt8(ascii: "\""))
  }

  /// Appends the decimal digits of `value`, as JSONEncoder writes an Int (an Int's description
  /// fits a small String, so this allocates nothing).
  public static func appendInt(_ value: Int, to bytes: inout [UInt8]) {
    bytes.append(contentsOf: String(value).utf8)
  }

  /// Appends `{"name":` for an object's first key, `,"name":` for the others.
  public static func appendKey(_ name: StaticString, first: Bool, to bytes: inout [UInt8]) {
    bytes.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
    bytes.append(UInt8(ascii: "\""))
    name.withUTF8Buffer { bytes.append(contentsOf: $0) }
    bytes.append(UInt8(ascii: "\""))
    bytes.append(UInt8(ascii: ":"))
  }
}

extension JSONFormats {
  /// A value `lineEncoder()` can write faster by hand, byte for byte the same.
  public protocol Writable: Encodable {
    /// Appends the value's line (without the newline); false where only the encoder knows.
    func appendLine(to bytes: inout [UInt8], encoder: JSONEncoder) throws -> Bool
  }

  /// The line `lineEncoder()` writes for `value` (without the newline), by hand for a Writable.
  public static func line<T: Encodable>(_ value: T, encoder: JSONEncoder) throws -> Data {
    if let writable = value as? any Writable {
      var bytes: [UInt8] = []
      bytes.reserveCapacity(1024)
      if try writable.appendLine(to: &bytes, encoder: encoder) { return Data(bytes) }
    }
    return try encoder.encode(value)
  }

  /// Appends `value` as `lineEncoder()` writes it: keys sorted as Swift sorts Strings, doubles
  /// as their shortest description without a trailing `.0`. False for a value JSON cannot hold
  /// (a NaN or infinity), which the encoder refuses.
  public static func append(_ value: JSONValue, to bytes: inout [UInt8], encoder: JSONEncoder) throws -> Bool {
    switch value {
    case .null: bytes += Array("null".utf8)
    case .bool(let flag): bytes += Array((flag ? "true" : "false").utf8)
    case .int(let number): appendInt(number, to: &bytes)
    case .double(let number):
      guard appendDouble(number, to: &bytes) else { return false }
    case .string(let text): try appendString(text, to: &bytes, encoder: encoder)
    case .array(let list):
      bytes.append(UInt8(ascii: "["))
      for (index, element) in list.enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        guard try append(element, to: &bytes, encoder: encoder) else { return false }
      }
      bytes.append(UInt8(ascii: "]"))
    case .object(let object):
      bytes.append(UInt8(ascii: "{"))
      for (index, key) in object.keys.sorted().enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        try appendString(key, to: &bytes, encoder: encoder)
        bytes.append(UInt8(ascii: ":"))
        guard try append(object[key]!, to: &bytes, encoder: encoder) else { return false }
      }
      bytes.append(UInt8(ascii: "}"))
    }
    return true
  }

  /// A Double as JSONEncoder writes it (checked on 600,000 values, exponents included).
  public static func appendDouble(_ value: Double, to bytes: inout [UInt8]) -> Bool {
    guard value.isFinite else { return false }
    var text = value.description
    if text.hasSuffix(".0") { text.removeLast(2) }
    bytes += Array(text.utf8)
    return true
  }
}

extension JSONFormats {
  /// `value` as one compact line with sorted keys (a request body), written by hand where it can.
  public static func data(_ value: JSONValue) throws -> Data {
    try line(value, encoder: lineEncoder())
  }
}

extension JSONValue: JSONFormats.Writable {
  public func appendLine(to bytes: inout [UInt8], encoder: JSONEncoder) throws -> Bool {
    try JSONFormats.append(self, to: &bytes, encoder: encoder)
  }
}
