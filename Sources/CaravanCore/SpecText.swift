import Foundation
import Yams

/// Checks of a job spec's text before it is parsed: size, NUL bytes, and how far its anchors and
/// aliases expand. The parser walks every value, aliases expanded, so a "billion laughs" spec
/// of a few hundred bytes would otherwise run it for hours.
public enum SpecText {
  /// Throws every problem found in `text` (read from `file`).
  public static func check(_ text: String, file: String) throws(InputError) {
    let problems = problems(text, file: file)
    if !problems.isEmpty { throw InputError(problems) }
  }

  public static func problems(_ text: String, file: String) -> [Problem] {
    let bytes = text.utf8.count
    if bytes > InputLimits.maxSpecBytes {
      return [Problem(file: file, line: nil, message: "the job spec is \(grouped(bytes)) bytes; the most is \(grouped(InputLimits.maxSpecBytes)) (is this the prompt file?)")]
    }
    if let line = TextLines.firstLine(of: text, containing: 0) {
      return [Problem(file: file, line: line, message: "the line has a NUL byte; a job spec is text (is this a binary file?)")]
    }
    if let problem = aliasKeyProblem(text, file: file) { return [problem] }
    // A spec that is not YAML is reported by the parser, with its own message.
    guard let root = try? Yams.compose(yaml: text), let mapping = root.mapping else { return [] }
    var budget = InputLimits.maxSpecValues
    for (key, value) in mapping {
      guard countValues(value, budget: &budget) else {
        let name = key.string ?? "?"
        return [Problem(file: file, line: key.mark?.line, keyPath: name, message: "'\(name)' expands to more than \(grouped(InputLimits.maxSpecValues)) YAML values (through anchors and aliases: *name repeats what &name marks); write the values out, or use a sweep")]
      }
    }
    return []
  }

  /// What an alias turns into for `aliasKeyProblem`'s look at the text.
  static let aliasMark = "__caravan_alias__"

  /// An alias used as a mapping key (`*big: x`), or inside one. Yams compares every key of a
  /// mapping in full, aliases expanded, to find duplicates, so a few hundred bytes of such keys
  /// kept `caravan validate` busy for minutes before any other check (found by fuzzing).
  /// Aliases are first made plain text (`*name` -> `__caravan_alias__name`: what libyaml reads
  /// as an alias is `*` and letters, digits, `_` or `-`), so composing is cheap; then any key
  /// holding one is refused. Text that is not YAML even so is reported here, as the parser
  /// would, since composing the original would pay the cost this avoids.
  static func aliasKeyProblem(_ text: String, file: String) -> Problem? {
    let isAnchorChar: (UInt8) -> Bool = { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    let bytes = Array(text.utf8)
    guard bytes.indices.contains(where: { bytes[$0] == UInt8(ascii: "*") && $0 + 1 < bytes.count && isAnchorChar(bytes[$0 + 1]) }) else { return nil }
    var plain: [UInt8] = []
    plain.reserveCapacity(bytes.count + 64)
    for (index, byte) in bytes.enumerated() {
      if byte == UInt8(ascii: "*"), index + 1 < bytes.count, isAnchorChar(bytes[index + 1]) { plain += aliasMark.utf8 } else { plain.append(byte) }
    }
    let root: Node?
    do {
      root = try Yams.compose(yaml: String(decoding: plain, as: UTF8.self))
    } catch YamlError.duplicatedKeysInMapping {
      return nil  // the parser reports these, and they hold no alias
    } catch {
      return Problem(file: file, line: SpecParser.yamlErrorLine(error), message: "not valid YAML or JSON: \(SpecParser.yamlErrorSummary(error))")
    }
    guard let root else { return nil }
    var pending = [root]
    while let next = pending.popLast() {
      switch next {
      case .mapping(let mapping):
        for (key, value) in mapping {
          if let alias = firstAlias(in: key) {
            return Problem(file: file, line: key.mark?.line, message: "a key is the alias *\(alias) (or holds one); a key must be written out, e.g. 'temperature:'")
          }
          pending.append(value)
        }
      case .sequence(let sequence): pending.append(contentsOf: sequence)
      case .scalar, .alias: break
      }
    }
    return nil
  }

  /// The name of the first alias in `node` (made plain text by `aliasKeyProblem`), if any.
  private static func firstAlias(in node: Node) -> String? {
    var pending = [node]
    while let next = pending.popLast() {
      switch next {
      case .scalar(let scalar) where scalar.style == .plain && scalar.string.hasPrefix(aliasMark):
        return String(scalar.string.dropFirst(aliasMark.count))
      case .mapping(let mapping):
        for (key, value) in mapping { pending.append(key); pending.append(value) }
      case .sequence(let sequence): pending.append(contentsOf: sequence)
      case .scalar, .alias: break
      }
    }
    return nil
  }

  /// Counts `node`'s values, aliases expanded, against `budget`; false once it runs out.
  /// Iterative: the parser caps nesting, but the count should not depend on the stack either.
  static func countValues(_ node: Node, budget: inout Int) -> Bool {
    var pending = [node]
    while let next = pending.popLast() {
      budget -= 1
      if budget < 0 { return false }
      switch next {
      case .mapping(let mapping):
        for (key, value) in mapping { pending.append(key); pending.append(value) }
      case .sequence(let sequence): pending.append(contentsOf: sequence)
      case .scalar, .alias: break
      }
    }
    return true
  }
}

/// Line arithmetic on text read from users' files, on its UTF-8 bytes (fast on a 50 MB line,
/// where walking `Character`s is not).
public enum TextLines {
  /// The 1-based line of the first `byte` in `text`, or nil.
  public static func firstLine(of text: String, containing byte: UInt8) -> Int? {
    var line = 1
    for value in text.utf8 {
      if value == byte { return line }
      if value == 10 { line += 1 }
    }
    return nil
  }

  /// A line break or another control character (C0 but tab, DEL, C1, the Unicode line and
  /// paragraph separators): in a value that becomes one line of a script, it would end the line.
  public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    (scalar.value < 0x20 && scalar != "\t") || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
  }

  public static func hasControl(_ text: String) -> Bool { text.unicodeScalars.contains(where: isControl) }

  /// `data` as UTF-8 text, or the 1-based line and byte column of its first invalid byte.
  public static func decode(_ data: Data) -> Result<String, InvalidUTF8> {
    if let text = String(validating: data, as: UTF8.self) { return .success(text) }
    // Find where: decode scalar by scalar, counting lines.
    var line = 1, column = 1, offset = 0
    var iterator = data.makeIterator()
    var decoder = UTF8()
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar):
        offset += UTF8.width(scalar)
        if scalar == "\n" { line += 1; column = 1 } else { column += UTF8.width(scalar) }
      case .emptyInput:
        return .failure(InvalidUTF8(line: line, column: column, offset: offset))
      case .error:
        return .failure(InvalidUTF8(line: line, column: column, offset: offset))
      }
    }
  }

  /// Where a file stops being UTF-8.
  public struct InvalidUTF8: Error, Sendable, Equatable {
    public var line: Int
    /// 1-based byte column of the first invalid byte in its line.
    public var column: Int
    /// 0-based byte offset in the file.
    public var offset: Int
  }
}
