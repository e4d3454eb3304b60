import Foundation

/// A fast reader for the common prompt line: one JSON object whose values are all text, such as
/// `{"id": "q1", "prompt": "What is Singapore?"}`. JSONDecoder spent a third of the time of
/// planning 100k prompts on such lines.
///
/// It returns nil for anything else (a number, a nested value, a `\u` escape, a repeated key,
/// or a line that is not JSON), and the caller decodes the line with JSONDecoder, which gives
/// the same value for every line this accepts and the error for the rest.
enum FlatJSONObject {
  static func parse(_ line: String) -> [String: JSONValue]? {
    var line = line
    return line.withUTF8 { bytes in
      var reader = Reader(bytes: bytes)
      return reader.object()
    }
  }

  private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
      self.bytes = bytes
    }

    mutating func object() -> [String: JSONValue]? {
      skipSpace()
      guard take(UInt8(ascii: "{")) else { return nil }
      var object: [String: JSONValue] = [:]
      skipSpace()
      if !take(UInt8(ascii: "}")) {
        while true {
          guard let key = string() else { return nil }
          skipSpace()
          guard take(UInt8(ascii: ":")) else { return nil }
          skipSpace()
          guard let value = string(), object.updateValue(.string(value), forKey: key) == nil else { return nil }
          skipSpace()
          if take(UInt8(ascii: ",")) {
            skipSpace()
            continue
          }
          guard take(UInt8(ascii: "}")) else { return nil }
          break
        }
      }
      skipSpace()
      return index == bytes.count ? object : nil
    }

    /// A string with no escapes but `\" \\ \/ \b \f \n \r \t`.
    private mutating func string() -> String? {
      guard take(UInt8(ascii: "\"")) else { return nil }
      let start = index
      while index < bytes.count {
        let byte = bytes[index]
        if byte == UInt8(ascii: "\"") {
          defer { index += 1 }
          return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }
        if byte == UInt8(ascii: "\\") { break }
        if byte < 0x20 { return nil }
        index += 1
      }
      var text = Array(bytes[start..<index])
      while index < bytes.count {
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""):
          return String(decoding: text, as: UTF8.self)
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
          default: return nil
          }
        case 0..<0x20:
          return nil
        default:
          text.append(byte)
        }
      }
      return nil
    }

    private mutating func take(_ byte: UInt8) -> Bool {
      guard index < bytes.count, bytes[index] == byte else { return false }
      index += 1
      return true
    }

    private mutating func skipSpace() {
      while index < bytes.count {
        switch bytes[index] {
        case 0x20, 0x09, 0x0A, 0x0D: index += 1
        default: return
        }
      }
    }
  }
}
