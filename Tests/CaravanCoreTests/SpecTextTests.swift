import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanCore

/// Text is checked before a parser walks it: size, NUL bytes, alias bombs, long lines, and
/// where a file stops being UTF-8.
@Suite("Input text")
struct SpecTextTests {
  /// A "billion laughs": nine aliases of nine aliases of ..., 9^9 values from a few lines.
  static func aliasBomb(under key: String) -> String {
    var text = "\(key):\n  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for level in 1...8 {
      text += "  - &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
    }
    return text
  }

  @Test("an alias bomb is refused at its key before the parser expands it (validate hung for hours)")
  func aliasBomb() throws {
    let text = minimalSpec + Self.aliasBomb(under: "variants")
    let problems = SpecText.problems(text, file: "job.yaml")
    #expect(problems.map(\.description) == ["job.yaml:6: variants: 'variants' expands to more than 1,000,000 YAML values (through anchors and aliases: *name repeats what &name marks); write the values out, or use a sweep"])
  }

  /// Found by fuzz-spec (Tests/Fixtures/fuzz/spec-timeout-alias-keys.yaml, a libFuzzer timeout):
  /// Yams hashes every mapping key in full, aliases expanded, so `*g: x` inside an unclosed flow
  /// list took seconds before the YAML error; a valid spec with twenty such keys took a minute.
  @Test("an alias used as a mapping key is refused before the parser compares keys in full")
  func aliasKeys() throws {
    let found = try String(contentsOf: TestPaths.fixtures.appendingPathComponent("fuzz/spec-timeout-alias-keys.yaml"), encoding: .utf8)
    var started = ContinuousClock.now
    #expect(SpecText.problems(found, file: "job.yaml").map(\.description) == ["job.yaml:15: not valid YAML or JSON: did not find expected ',' or ']'"])
    #expect(ContinuousClock.now - started < .seconds(2))

    var text = minimalSpec + "lols:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for (level, previous) in zip("bcdefg", "abcdef") {
      text += "  \(level): &\(level) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
    }
    text += "  h: [" + (0..<20).map { "*g: \($0)" }.joined(separator: ", ") + "]\n"
    started = ContinuousClock.now
    let problems = SpecText.problems(text, file: "job.yaml")
    #expect(ContinuousClock.now - started < .seconds(2))
    #expect(problems.map(\.description) == ["job.yaml:14: a key is the alias *g (or holds one); a key must be written out, e.g. 'temperature:'"])
    // Keys inside a key, and a quoted '*' that is no alias.
    #expect(SpecText.problems(minimalSpec + "x: &x {a: 1}\ny: {[*x]: 1}\n", file: "job.yaml").first?.message.contains("alias *x") == true)
    #expect(SpecText.problems(minimalSpec + "slurm:\n  setup: ['echo \"*note*: a*b\"']\n", file: "job.yaml").isEmpty)
  }

  @Test("a few aliases are fine")
  func someAliases() {
    let text = minimalSpec + "slurm:\n  setup: &lines [a, b]\n  extra: [--x]\ncontainer:\n  binds: *lines\n"
    #expect(SpecText.problems(text, file: "job.yaml").isEmpty)
  }

  @Test("a NUL byte, and a spec too large to be one, are refused with where")
  func nulAndSize() {
    #expect(SpecText.problems("name: a\nmodel: b\u{0}c\n", file: "job.yaml").map(\.description) == ["job.yaml:2: the line has a NUL byte; a job spec is text (is this a binary file?)"])
    let big = "name: " + String(repeating: "x", count: InputLimits.maxSpecBytes) + "\n"
    #expect(SpecText.problems(big, file: "job.yaml").first?.message.hasPrefix("the job spec is 8,388,615 bytes; the most is 8,388,608") == true)
  }

  @Test("where a file stops being UTF-8")
  func invalidUTF8() {
    #expect(TextLines.decode(Data("ok\nné\n".utf8)) == .success("ok\nné\n"))
    #expect(TextLines.decode(Data([0x61, 0x0A, 0x62, 0x63, 0xFF, 0x0A])) == .failure(.init(line: 2, column: 3, offset: 4)))
    #expect(TextLines.decode(Data([0x61, 0xC3])) == .failure(.init(line: 1, column: 2, offset: 1)))
  }

  @Test("prompt lines with a NUL byte, or of more than the limit, are refused by line")
  func promptLines() {
    let long = "{\"id\": \"b\", \"prompt\": \"" + String(repeating: "x", count: InputLimits.maxPromptLineBytes) + "\"}"
    let problems = promptProblems("{\"id\": \"a\", \"prompt\": \"x\"}\n" + long + "\nplain\u{0}text\n", file: "p.txt")
    #expect(problems.map(\.line) == [2, 3])
    #expect(problems.first?.message.hasPrefix("the line is 8,388,633 bytes long; the most is 8,388,608") == true)
    #expect(problems.last?.message == "the line has a NUL byte; a prompt file is text (is this a binary file?)")
  }

  @Test("a byte order mark and CRLF line ends are read as a plain file")
  func bomAndCRLF() throws {
    let prompts = try PromptFile.parse("\u{FEFF}{\"id\": \"a\", \"prompt\": \"x\"}\r\n{\"id\": \"b\", \"prompt\": \"y\"}\r\n", file: "p.jsonl")
    #expect(prompts.map(\.id) == ["a", "b"])
    #expect(prompts.map(\.line) == [1, 2])
    let text = try PromptFile.parse("\u{FEFF}first\r\nsecond\r\n", file: "p.txt")
    #expect(text.map(\.input) == [.prompt("first"), .prompt("second")])
  }
}
