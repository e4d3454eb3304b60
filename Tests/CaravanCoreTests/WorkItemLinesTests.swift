import Foundation
import Testing

@testable import CaravanCore

/// The fast shard-file writer gives, byte for byte, what JSONEncoder gives for each item.
@Suite struct WorkItemLinesTests {
  func plan() throws -> PlanItems {
    var spec = JobSpec(name: "lines", model: "gemma:7b", prompts: "p.jsonl")
    spec.repeats = 3
    spec.variants = [
      VariantSpec(name: "cold", options: ["temperature": .double(0.1), "top_k": .int(3)]),
      VariantSpec(name: "plain"),
      VariantSpec(name: "mf", modelfile: "FROM gemma:7b\nPARAMETER temperature 0.7\nSYSTEM Be \"brief\" / terse.\n"),
      VariantSpec(name: "typed", format: .string("json")),
    ]
    var prompts = [
      Prompt(id: "a", input: .prompt("What is Singapore?"), line: 1),
      Prompt(id: "b/\"quoted\"", input: .messages([ChatMessage(role: "user", content: "Line one\nline two\t✓")]), options: ["temperature": .int(1), "seed": .int(7)], line: 2, meta: .object(["label": .string("x"), "variant": .int(2)])),
      Prompt(id: "none", input: .prompt("skipped"), variants: [], line: 3),
      Prompt(id: "some", input: .prompt("only two"), variants: ["typed", "cold"], line: 4),
      Prompt(id: "sys", input: .messages([ChatMessage(role: "system", content: "Own system"), ChatMessage(role: "user", content: "hi")]), line: 5),
      Prompt(id: "ü/😀", input: .prompt("Grüße, 日本 / 😀, a DEL \u{7F} and a tab\t"), line: 6),
      Prompt(id: "", input: .prompt(""), line: 7),
    ]
    prompts[3].format = .object(["type": .string("object")])
    return Planner.plan(spec: spec, prompts: prompts).items
  }

  @Test func everyLineIsWhatJSONEncoderWrites() throws {
    let items = try plan()
    let encoder = JSONFormats.lineEncoder()
    var expected = Data()
    for item in items {
      expected.append(try encoder.encode(item))
      expected.append(UInt8(ascii: "\n"))
    }
    var written = Data()
    try items.encodeLines(items.startIndex..<items.endIndex, piece: 100) { written.append($0) }
    #expect(written == expected)
    // Any slice, starting mid-prompt and mid-variant.
    for range in [3..<4, 5..<17, 0..<1, 20..<items.endIndex] where range.upperBound <= items.endIndex {
      var slice = Data()
      try items.encodeLines(range) { slice.append($0) }
      var want = Data()
      for seq in range { want.append(try encoder.encode(items[seq])); want.append(UInt8(ascii: "\n")) }
      #expect(slice == want, "items \(range)")
    }
    // And it decodes to the same items, through JSONDecoder and through FastJSON.
    let lines = String(decoding: written, as: UTF8.self).split(separator: "\n")
    let decoded = try lines.map { try JSONDecoder().decode(WorkItem.self, from: Data($0.utf8)) }
    #expect(decoded == Array(items))
    let fast = try lines.map { try #require(FastJSON.parse(String($0)).flatMap(WorkItem.init(parsed:)), "\($0)") }
    #expect(fast == Array(items))
  }
}
