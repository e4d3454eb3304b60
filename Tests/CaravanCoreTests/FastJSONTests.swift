import Foundation
import Testing

@testable import CaravanCore

/// The fast reader agrees with JSONDecoder on every text it accepts, and leaves the texts where
/// JSONDecoder decides by value (or fails) to it.
@Suite struct FastJSONTests {
  func decoded(_ text: String) -> JSONValue? {
    try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
  }

  @Test(arguments: [
    #"{"id": "q1", "prompt": "What is Singapore?"}"#,
    #"  {"id":"q1","prompt":"a \"quoted\" word, a \\ and a \/ slash"}  "#,
    #"{"prompt": "tabs\tand\nnew lines\r\b\f", "id": "é日本😀"}"#,
    #"{"e": "\u00e9\u65e5\ud83d\ude00\u0000"}"#,
    #"{"n": [0, -0, 1, -12, 9223372036854775807, -9223372036854775808, 0.5, -1.25e-3, 2.5E-1, 1.25e+1]}"#,
    #"{"t": true, "f": false, "z": null, "o": {"a": [[], {}, [{"b": null}]]}}"#,
    "{}", "[]", "3", "\"text\"", "null",
  ])
  func acceptedTextsMatchJSONDecoder(text: String) throws {
    let fast = try #require(FastJSON.parse(text), "the fast reader takes \(text)")
    #expect(fast == decoded(text))
  }

  @Test(arguments: [
    "1.0", "1e2", "-0.0", "9223372036854775808", "1E400",  // JSONDecoder decides these by value
    #""\ud83d alone""#, #""\ude00""#,  // lone surrogates
    #"{"id": "q", "id": "repeated"}"#,
    #"{"id": "q"} trailing"#, #"{"id": "q",}"#, #"{"id" "q"}"#, #"{"id": "unterminated}"#,
    #""bad \a escape""#, "\"raw\u{1}control\"", "[1,]", "01", "-", "1.", ".5", "1e", "+1", "tru", "nul",
    "", " ",
    String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
  ])
  func otherTextsAreLeftToJSONDecoder(text: String) {
    #expect(FastJSON.parse(text) == nil)
  }

  @Test func invalidUTF8IsLeftToJSONDecoder() {
    #expect(FastJSON.parse(Data([0x22, 0xC3, 0x28, 0x22])) == nil)
    #expect(FastJSON.parse(Data([0x22, 0xC3, 0xA9, 0x22])) == .string("é"))
  }

  /// Random values (and random damage to them) through both readers.
  @Test func randomTextsMatchJSONDecoder() throws {
    var generator = SeededGenerator(seed: 20261203)
    let pieces = ["a", " ", "\"", "\\", "/", "é", "😀", "\\n", "\\t", "\\\"", "\\u0041", "\\ud83d\\ude00", "\\ud83d", "\u{1}", "{", "]", ","]
    func text() -> String {
      (0..<Int.random(in: 0...5, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
    }
    func number() -> String {
      ["0", "-0", "7", "-42", "3.25", "-0.5e-2", "1e3", "2.0", "1E+2", "123456789012345678901", "0.1", "6.02e23", "1e-400"].randomElement(using: &generator)!
    }
    func value(_ depth: Int) -> String {
      switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
      case 0: return "\"\(text())\""
      case 1: return number()
      case 2: return ["true", "false", "null"].randomElement(using: &generator)!
      case 3: return "\"plain\""
      case 4: return "[" + (0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
      default:
        return "{" + (0..<Int.random(in: 0...3, using: &generator)).map { _ in "\"\(text())\" : \(value(depth + 1))" }.joined(separator: ", ") + "}"
      }
    }
    var accepted = 0, damaged = 0
    for round in 0..<3000 {
      var line = value(0)
      if round % 3 == 0, !line.isEmpty {
        // Damage: drop or duplicate one character.
        var characters = Array(line)
        let at = Int.random(in: 0..<characters.count, using: &generator)
        if Bool.random(using: &generator) { characters.remove(at: at) } else { characters.insert(characters[at], at: at) }
        line = String(characters)
        damaged += 1
      }
      if let fast = FastJSON.parse(line) {
        accepted += 1
        #expect(fast == decoded(line), "\(line)")
      }
    }
    #expect(accepted > 1000 && damaged > 500, "accepted \(accepted), damaged \(damaged)")
  }

  /// `fields` (one object's members by name, with the other members passed over in place)
  /// takes exactly the objects `parse` takes, and gives their members.
  @Test func fieldsAgreeWithParseOnRandomObjects() throws {
    var generator = SeededGenerator(seed: 20261204)
    let keys = ["seq", "id", "variant", "s\\u0065q", "é", "e\u{301}", "e\\u0301", "\\u00e9", "x", "x", "messages", "a\\b", ""]
    let pieces = ["a", " ", "\\\"", "é", "\\n", "\\u0041", "\\ud83d", "\u{1}", "{", ","]
    func text() -> String { (0..<Int.random(in: 0...3, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined() }
    func value(_ depth: Int) -> String {
      switch Int.random(in: 0..<(depth > 3 ? 3 : 5), using: &generator) {
      case 0: return "\"\(text())\""
      case 1: return ["0", "-7", "2.5", "1.0", "1e400", "true", "null"].randomElement(using: &generator)!
      case 2: return "\"plain\""
      case 3: return "[" + (0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
      default: return object(depth + 1)
      }
    }
    func object(_ depth: Int) -> String {
      "{" + (0..<Int.random(in: 0...4, using: &generator)).map { _ in "\"\(keys.randomElement(using: &generator)!)\": \(value(depth))" }.joined(separator: ", ") + "}"
    }
    let names = FastJSON.FieldNames(["seq", "id", "variant", "é"])
    var accepted = 0, refused = 0
    for round in 0..<4000 {
      var line = object(0)
      if round % 4 == 0 {
        var characters = Array(line)
        let at = Int.random(in: 0..<characters.count, using: &generator)
        if Bool.random(using: &generator) { characters.remove(at: at) } else { characters.insert(characters[at], at: at) }
        line = String(characters)
      }
      let parsed = FastJSON.parse(line)
      let fields = Data(line.utf8).withUnsafeBytes { FastJSON.fields($0, names) }
      guard case .object(let object)? = parsed else {
        #expect(fields == nil, "\(line)")
        refused += 1
        continue
      }
      let read = try #require(fields, "\(line)")
      accepted += 1
      for name in names.names { #expect(read[name] == object[name], "\(name) in \(line)") }
    }
    #expect(accepted > 1000 && refused > 500, "accepted \(accepted), refused \(refused)")
  }

  @Test func aRecordAsTheWorkerWritesItIsReadFast() throws {
    var record = ResultRecord(
      item: WorkItem(seq: 7, id: "q/7", variant: "cold", repeat: 2, model: "gemma:7b", input: .prompt("hi"), options: ["temperature": .double(0.1), "top_k": .int(3)]),
      status: .ok, node: "n1", shard: 0, attempts: 1, wallMs: 12.5, finishedAt: "2026-12-03T16:00:00.000Z")
    record.response = "Grüße \"quoted\"\nline"
    record.timings.evalCount = 12
    record.timings.evalDuration = 1_200_000
    record.meta = .object(["label": .string("x"), "weight": .double(0.25)])
    let line = try JSONFormats.lineEncoder().encode(record)
    let fast = try #require(FastJSON.parse(line))
    #expect(fast == (try JSONDecoder().decode(JSONValue.self, from: line)))
    // And the record made from it is the one JSONDecoder makes.
    #expect(ResultRecord(parsed: fast) == (try JSONDecoder().decode(ResultRecord.self, from: line)))
    #expect(ResultRecord(parsed: fast) == record)
    // The bulk path (no dictionary) makes the same record.
    #expect(line.withUnsafeBytes { ResultRecord.read($0) } == record)
    var spaced = String(decoding: line, as: UTF8.self).replacingOccurrences(of: #"":"#, with: #"" : "#)
    spaced = spaced.replacingOccurrences(of: #""seq""#, with: #""s\u0065q""#)
    #expect(Data(spaced.utf8).withUnsafeBytes { ResultRecord.read($0) } == record)
    #expect(Data((spaced.dropLast() + #","seq":8}"#).utf8).withUnsafeBytes { ResultRecord.read($0) } == nil, "a key twice")
  }

  @Test func aRecordWithAFieldOfTheWrongTypeIsLeftToJSONDecoder() throws {
    let line = #"{"attempts":1,"finished_at":"t","id":"q","model":"m","node":"n","options":{},"repeat":"1","seq":0,"shard":0,"status":"ok","variant":"v","wall_ms":1}"#
    #expect(ResultRecord(parsed: try #require(FastJSON.parse(line))) == nil)
    let good = line.replacingOccurrences(of: #""repeat":"1""#, with: #""repeat":1"#)
    #expect(ResultRecord(parsed: try #require(FastJSON.parse(good))) == (try JSONDecoder().decode(ResultRecord.self, from: Data(good.utf8))))
  }
}
