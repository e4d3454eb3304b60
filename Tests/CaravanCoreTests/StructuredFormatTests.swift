@testable import CaravanCore
import Testing

/// `format:`: the schema subset Caravan checks, refused where it cannot check it, and the
/// requests that carry it to each engine.
@Suite("Structured outputs")
struct StructuredFormatTests {
  let classifier: JSONValue = .object([
    "type": .string("object"),
    "properties": .object(["label": .object(["type": .string("string"), "enum": .array([.string("yes"), .string("no")])]), "score": .object(["type": .string("integer"), "minimum": .int(0), "maximum": .int(5)])]),
    "required": .array([.string("label")]),
    "additionalProperties": .bool(false),
  ])

  @Test("answers are parsed and checked by Caravan: enum, required, types, bounds, extra properties")
  func checks() {
    #expect(StructuredFormat.check(#" {"label": "yes", "score": 3} "#, against: classifier).valid)
    #expect(StructuredFormat.check(#"{"label": "maybe"}"#, against: classifier).problems == [#"$.label: maybe is not one of yes, no"#])
    #expect(StructuredFormat.check(#"{"score": 3}"#, against: classifier).problems == ["$: 'label' is missing"])
    #expect(StructuredFormat.check(#"{"label": "no", "score": 9}"#, against: classifier).problems == ["$.score: more than 5"])
    #expect(StructuredFormat.check(#"{"label": "no", "why": "x"}"#, against: classifier).problems == ["$: 'why' is not an allowed property"])
    #expect(StructuredFormat.check(#"{"label": "no", "score": 2.0}"#, against: classifier).valid, "2.0 is an integer in JSON Schema")
    let notJSON = StructuredFormat.check("```json\n{}\n```", against: classifier)
    #expect(notJSON.parsed == nil && !notJSON.valid)
    #expect(StructuredFormat.check("[1, 2]", against: .string("json")).valid, "json takes any JSON")
  }

  @Test("a schema Caravan cannot check is refused at the keyword, with a suggestion", arguments: [
    ("format:\n  type: strin\n", "format.type", "'strin' is not a JSON Schema type"),
    ("format:\n  type: object\n  propertes: {}\n", "format.propertes", "did you mean 'properties'?"),
    ("format:\n  type: object\n  properties: {a: {pattern: 'x'}}\n", "format.properties.a.pattern", "not a keyword Caravan can check"),
    ("format:\n  type: object\n  properties: {a: {type: string}}\n  required: [b]\n", "format.required", "'b' is required but not among the properties"),
    ("format: yaml\n", "format", "expected json or a JSON schema"),
    ("variants:\n  - name: v\n    format: {enum: []}\n", "variants[0].format.enum", "non-empty list"),
    ("format: {type: string, enum: [1, 2]}\n", "format.enum", "1, 2 not of type string"),
    ("format: {type: array, minItems: 5, maxItems: 2}\n", "format.minItems", "no answer could satisfy both"),
    ("format: {type: integer, minimum: 5, maximum: 2}\n", "format.minimum", "no answer could satisfy both"),
    ("format: {type: integer, const: x}\n", "format.const", "not of type integer"),
    ("format:\n  type: object\n  properties: {a: {type: string}}\n  required: [a, a]\n", "format.required", "listed twice"),
  ])
  func refused(text: String, key: String, message: String) throws {
    let found = try #require(problem(at: key, in: specProblems(minimalSpec + text)), "\(specProblems(minimalSpec + text))")
    #expect(found.message.contains(message), "\(found.message)")
    let keyword = String(key.split(separator: ".").last ?? "")
    let expectedLine = (minimalSpec + text).split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(keyword.hasPrefix("variants") ? "format" : keyword + ":") }.map { $0 + 1 }
    #expect(found.line != nil && (key.hasPrefix("variants") || key == "format" || found.line == expectedLine), "\(found) at \(String(describing: expectedLine))")
  }

  @Test("the spec's format goes to every variant without one; a variant's and a prompt line's win")
  func precedence() throws {
    let spec = try SpecParser.parse(minimalSpec + """
      format: json
      variants:
        - name: plain
        - name: strict
          format: {type: object, properties: {label: {enum: [a, b]}}}
      """, file: "job.yaml")
    var line = Prompt(id: "x", input: .prompt("p"), line: 2)
    line.format = .object(["type": .string("array")])
    let items = Array(Planner.plan(spec: spec, prompts: [Prompt(id: "a", input: .prompt("p"), line: 1), line]).items)
    #expect(items[0].format == .string("json"))
    #expect(items[1].format?.objectValue?["properties"] != nil)
    #expect(items.dropFirst(2).allSatisfy { $0.format == .object(["type": .string("array")]) })
  }

  @Test("the request carries the format: Ollama's format, OpenAI's response_format, llama.cpp's json_schema on completions")
  func requests() {
    var item = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "m", input: .prompt("p"), options: [:])
    item.format = classifier
    let completion = OpenAIRequest.body(for: item).body
    #expect(completion["response_format"]?["type"] == .string("json_schema"))
    #expect(completion["response_format"]?["json_schema"]?["schema"] == classifier)
    #expect(completion["json_schema"] == classifier)
    item.input = .messages([ChatMessage(role: "user", content: "p")])
    item.format = .string("json")
    let chat = OpenAIRequest.body(for: item)
    #expect(chat.path == "/v1/chat/completions")
    #expect(chat.body["response_format"] == .object(["type": .string("json_object")]))
    #expect(chat.body["json_schema"] == nil)
  }

  @Test("records of a structured run carry parsed and schema_valid; free-text records leave them out")
  func recordFields() throws {
    var item = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "m", input: .prompt("p"), options: [:])
    var record = ResultRecord(item: item, status: .ok, node: "n", shard: 0, attempts: 1, wallMs: 1, finishedAt: "t")
    record.response = "free text"
    record.check(format: item.format)
    let plain = try JSONLines.lineEncoderString(record)
    #expect(!plain.contains("schema_valid") && !plain.contains("\"parsed\""))
    item.format = classifier
    record.response = #"{"label": "no"}"#
    record.check(format: item.format)
    let structured = try JSONLines.lineEncoderString(record)
    #expect(structured.contains(#""parsed":{"label":"no"}"#) && structured.contains(#""schema_valid":true"#))
  }
}

private enum JSONLines {
  static func lineEncoderString(_ record: ResultRecord) throws -> String {
    String(decoding: try JSONFormats.lineEncoder().encode(record), as: UTF8.self)
  }
}
