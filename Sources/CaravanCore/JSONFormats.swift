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

  /// Appends the decimal digits of `value`, as JSONEncoder writes an Int.
  public static func appendInt(_ value: Int, to bytes: inout [UInt8]) {
    guard value != 0 else {
      bytes.append(UInt8(ascii: "0"))
      return
    }
    if value < 0 { bytes.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
      (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    withUnsafeMutableBytes(of: &digits) { buffer in
      while magnitude > 0 {
        buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
        count += 1
      }
      for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
    }
  }
}
