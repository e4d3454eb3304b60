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

  /// Fractions are read without strtod where that is exact: the values are strtod's, as
  /// JSONDecoder's are, to the last bit.
  @Test func fractionsMatchJSONDecoderToTheBit() throws {
    var generator = SeededGenerator(seed: 20261206)
    for _ in 0..<20000 {
      let whole = String(UInt64.random(in: 0...UInt64(1) << Int.random(in: 0...60, using: &generator), using: &generator))
      let fraction = String(UInt64.random(in: 0...99_999_999, using: &generator))
      let exponent = Bool.random(using: &generator) ? "e\(["-", "+", ""].randomElement(using: &generator)!)\(Int.random(in: 0...30, using: &generator))" : ""
      let text = (Bool.random(using: &generator) ? "-" : "") + whole + "." + fraction + exponent
      guard let fast = FastJSON.parse(text) else { continue }
      guard case .double(let value) = fast, case .double(let reference)? = decoded(text) else {
        Issue.record("\(text): \(fast) against \(String(describing: decoded(text)))")
        continue
      }
      #expect(value.bitPattern == reference.bitPattern, "\(text)")
    }
  }

  /// Texts are passed over eight bytes at a time: every ASCII byte at every place of a longer
  /// text ends that run where it must (a quote, a backslash, a control character), and texts
  /// with letters beyond ASCII anywhere read as JSONDecoder reads them.
  @Test func longTextsMatchJSONDecoderWhateverByteComesWhere() throws {
    for byte in UInt8(0)..<0x80 {
      for place in 0..<20 {
        var text = [UInt8](repeating: UInt8(ascii: "a"), count: 24)
        text[place] = byte
        let data = Data([UInt8(ascii: "\"")] + text + [UInt8(ascii: "\"")])
        #expect(FastJSON.parse(data) == (try? JSONDecoder().decode(JSONValue.self, from: data)), "byte \(byte) at \(place)")
      }
    }
    var generator = SeededGenerator(seed: 20261208)
    let pieces = ["plain words ", "é", "日本", "😀", "\\\"", "\\n", "\\u00e9", "x"]
    for _ in 0..<2000 {
      let text = "\"" + (0..<Int.random(in: 0...30, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined() + "\""
      #expect(FastJSON.parse(text) == decoded(text), "\(text)")
    }
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

  /// `Members` (one object's members by name, each read as a value, the others passed over in
  /// place) takes exactly the objects `parse` takes, and gives their members.
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
      let members = Data(line.utf8).withUnsafeBytes { bytes -> [Int: JSONValue]? in
        var reader = FastJSON.Members(bytes, names)
        var values: [Int: JSONValue] = [:]
        while let slot = reader.next() {
          if slot < 0 {
            guard reader.skip() else { return nil }
          } else {
            guard let value = reader.value() else { return nil }
            values[slot] = value
          }
        }
        return reader.isComplete ? values : nil
      }
      guard case .object(let object)? = parsed else {
        #expect(members == nil, "\(line)")
        refused += 1
        continue
      }
      let read = try #require(members, "\(line)")
      accepted += 1
      for (slot, name) in names.names.enumerated() { #expect(read[slot] == object[name], "\(name) in \(line)") }
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
    // And the record read from it is the one JSONDecoder makes.
    #expect(line.withUnsafeBytes { ResultRecord.read($0) } == (try JSONDecoder().decode(ResultRecord.self, from: line)))
    #expect(line.withUnsafeBytes { ResultRecord.read($0) } == record)
    var spaced = String(decoding: line, as: UTF8.self).replacingOccurrences(of: #"":"#, with: #"" : "#)
    spaced = spaced.replacingOccurrences(of: #""seq""#, with: #""s\u0065q""#)
    #expect(Data(spaced.utf8).withUnsafeBytes { ResultRecord.read($0) } == record)
    #expect(Data((spaced.dropLast() + #","seq":8}"#).utf8).withUnsafeBytes { ResultRecord.read($0) } == nil, "a key twice")
  }

  @Test func aRecordWithAFieldOfTheWrongTypeIsLeftToJSONDecoder() throws {
    let line = #"{"attempts":1,"finished_at":"t","id":"q","model":"m","node":"n","options":{},"repeat":"1","seq":0,"shard":0,"status":"ok","variant":"v","wall_ms":1}"#
    #expect(Data(line.utf8).withUnsafeBytes { ResultRecord.read($0) } == nil)
    let good = line.replacingOccurrences(of: #""repeat":"1""#, with: #""repeat":1"#)
    #expect(Data(good.utf8).withUnsafeBytes { ResultRecord.read($0) } == (try JSONDecoder().decode(ResultRecord.self, from: Data(good.utf8))))
  }

  /// Records with members of every type a JSON text may give them, null or missing, a key
  /// twice, an unknown key, and damage: where the fast read gives a record, it is the one
  /// JSONDecoder makes; and a record as Caravan writes it is always read fast.
  @Test func recordsWithRandomMembersAreReadAsJSONDecoderReadsThem() throws {
    var generator = SeededGenerator(seed: 20261205)
    let texts = [#""t""#, #""é \"q\" \u00e9""#, #""ok""#, #""error""#, #""engine""#, #""bogus""#]
    let values = ["0", "-3", "12", "2.5", "1.0", "1e3", "1e400", "9223372036854775808", "true", "false", "null", "{}", #"{"a": 1}"#, "[]", #"["x", "y"]"#, "[1]"] + texts
    let required = ["seq": "4", "id": #""q""#, "variant": #""v""#, "repeat": "1", "model": #""m""#, "options": #"{"temperature": 0.5}"#,
      "status": #""ok""#, "wall_ms": "1.5", "node": #""n1""#, "shard": "0", "attempts": "1", "finished_at": #""2026-12-04T00:00:00Z""#]
    // Optional members, each with values of its own type (null is one of them).
    let text = [#""t""#, #""é \"q\" \u00e9""#, "null"], int = ["0", "7", "-1", "null"], double = ["0.25", "3", "1.5e2", "null"]
    let optional: [String: [String]] = [
      "response": text, "error": text, "done_reason": text, "gpu": text, "job_id": text, "timing_source": [#""engine""#, #""client""#, "null"],
      "ttft_ms": double, "queue_ms": double, "server": int, "total_duration": int, "load_duration": int, "prompt_eval_count": int,
      "prompt_eval_duration": int, "eval_count": int, "eval_duration": int, "meta": ["null", #"{"label": "x"}"#, "[1, 2.5]", #""m""#],
      "parsed": ["null", #"{"a": [true]}"#, "2"], "schema_valid": ["true", "false", "null"], "schema_errors": ["null", #"["bad"]"#, "[]"],
      "embedding": ["null"], "unknown": values, #"s\u0065q"#: ["4"],
    ]
    var fast = 0, decoded = 0
    for round in 0..<4000 {
      var members = required.map { ($0.key, $0.value) }.shuffled(using: &generator)
      // Change a few members' values, drop some, add optional ones with random values.
      for _ in 0..<Int.random(in: 0...2, using: &generator) {
        let at = Int.random(in: 0..<members.count, using: &generator)
        if Bool.random(using: &generator) { members[at].1 = values.randomElement(using: &generator)! } else if round % 7 == 0 { members.remove(at: at) }
      }
      for name in optional.keys.sorted().shuffled(using: &generator).prefix(Int.random(in: 0...8, using: &generator)) {
        let typed = Int.random(in: 0..<10, using: &generator) > 0
        members.append((name, (typed ? optional[name]! : values).randomElement(using: &generator)!))
      }
      var line = "{" + members.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
      if round % 5 == 0 {
        var characters = Array(line)
        let at = Int.random(in: 0..<characters.count, using: &generator)
        if Bool.random(using: &generator) { characters.remove(at: at) } else { characters.insert(characters[at], at: at) }
        line = String(characters)
      }
      let data = Data(line.utf8)
      let reference = try? JSONDecoder().decode(ResultRecord.self, from: data)
      if reference != nil { decoded += 1 }
      guard let read = data.withUnsafeBytes({ ResultRecord.read($0) }) else { continue }
      fast += 1
      #expect(read == reference, "\(line)")
    }
    #expect(fast > 500 && decoded > fast / 2, "read fast \(fast), decoded \(decoded)")
    // Every record the worker writes (its own encoder) is read fast.
    for seq in 0..<200 {
      var record = ResultRecord(
        item: WorkItem(seq: seq, id: "q\(seq)", variant: "v", repeat: 1, model: "m", input: .prompt("hi"), options: ["top_k": .int(seq)]),
        status: seq % 3 == 0 ? .error : .ok, node: "n", shard: 0, attempts: 1, wallMs: Double(seq) / 7, finishedAt: "2026-12-04T00:00:00.000Z")
      record.response = seq % 3 == 0 ? nil : String(repeating: "word ", count: seq)
      record.error = seq % 3 == 0 ? "HTTP 503" : nil
      record.ttftMs = seq % 2 == 0 ? 0.125 * Double(seq) : nil
      record.timings.evalDuration = seq * 1_000_003
      let line = try JSONFormats.lineEncoder().encode(record)
      #expect(line.withUnsafeBytes { ResultRecord.read($0) } == record, "\(String(decoding: line, as: UTF8.self))")
      var written: [UInt8] = []
      #expect(try record.appendLine(to: &written, encoder: JSONFormats.lineEncoder()))
      #expect(written.withUnsafeBytes { ResultRecord.read($0) } == record, "\(String(decoding: written, as: UTF8.self))")
    }
  }
}
