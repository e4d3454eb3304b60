import Foundation
import Testing

@testable import CaravanCore

/// The fast reader of prompt lines agrees with JSONDecoder on every line it accepts, and leaves
/// every other line to it.
@Suite struct FlatJSONObjectTests {
  func decoded(_ line: String) -> JSONValue? {
    try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
  }

  @Test(arguments: [
    #"{"id": "q1", "prompt": "What is Singapore?"}"#,
    #"  {"id":"q1","prompt":"a \"quoted\" word, a \\ and a \/ slash"}  "#,
    #"{"prompt": "tabs\tand\nnew lines\r\b\f", "id": "é日本😀"}"#,
    "{}",
    "\t{ \"a\" : \"\" }\r",
  ])
  func acceptedLinesMatchJSONDecoder(line: String) throws {
    let fast = try #require(FlatJSONObject.parse(line), "the fast reader takes \(line)")
    #expect(JSONValue.object(fast) == decoded(line))
  }

  @Test(arguments: [
    #"{"id": 1, "prompt": "numbers go to JSONDecoder"}"#,
    #"{"id": "q", "prompt": "\u00e9 escapes too"}"#,
    #"{"id": "q", "options": {"temperature": 0.1}}"#,
    #"{"id": "q", "id": "repeated"}"#,
    #"{"id": "q", "prompt": "x"} trailing"#,
    #"{"id": "q", "prompt": "x",}"#,
    #"{"id": "q" "prompt": "x"}"#,
    #"{"id": "q", "prompt": "unterminated}"#,
    #"{"id": "q", "prompt": "bad \a escape"}"#,
    "{\"id\": \"raw\u{1}control\"}",
    #"["id", "q"]"#,
    #"{"id": null}"#,
    "",
  ])
  func otherLinesAreLeftToJSONDecoder(line: String) {
    #expect(FlatJSONObject.parse(line) == nil)
  }

  @Test func randomFlatLinesMatchJSONDecoder() throws {
    var generator = SeededGenerator(seed: 20261203)
    let alphabet = #"ab "\/é😀 :,{}"#.map(String.init) + [#"\n"#, #"\t"#, #"\""#, #"\\"#, #"\/"#, #"\u0041"#, "\u{1}"]
    var accepted = 0
    for _ in 0..<2000 {
      func text() -> String {
        (0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
      }
      let pairs = (0..<Int.random(in: 0...3, using: &generator)).map { _ in "\"\(text())\"\(Bool.random(using: &generator) ? " " : ""):\"\(text())\"" }
      let line = "{" + pairs.joined(separator: ",") + "}"
      let fast = FlatJSONObject.parse(line).map(JSONValue.object)
      if let fast {
        accepted += 1
        #expect(fast == decoded(line), "\(line)")
      }
    }
    #expect(accepted > 200, "the generator made enough lines the fast reader takes")
  }
}
