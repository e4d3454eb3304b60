import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// Structured outputs end to end: a 3-label classifier swept over 3 temperatures, on the
/// simulator (Ollama's `format`) and on a real llama.cpp server (OpenAI's `response_format`,
/// which llama.cpp turns into a grammar).
@Suite struct StructuredOutputTests {
  static let schema = """
    format:
      type: object
      properties:
        label: {type: string, enum: [positive, negative, neutral]}
      required: [label]
      additionalProperties: false
    """

  /// Odd lines are plain prompts (`/api/generate`, `/v1/completions`), even ones conversations
  /// (`/api/chat`, `/v1/chat/completions`), so both request shapes carry the format.
  func writeJob(in dir: URL, engine: String, prompts: Int) throws {
    let review = "Reply in JSON. Is this review positive, negative or neutral? The battery died but the screen is lovely."
    try (1...prompts).map { n in
      n % 2 == 1
        ? #"{"id": "r\#(n)", "prompt": "\#(review) (\#(n))", "options": {"num_predict": 64}}"#
        : #"{"id": "r\#(n)", "messages": [{"role": "user", "content": "\#(review) (\#(n))"}], "options": {"num_predict": 64}}"#
    }
      .joined(separator: "\n").write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: classify
      model: tiny
      prompts: p.jsonl
      repeats: 2
      executor: local
      sweep:
        temperature: [0, 0.8, 1.5]
      \(Self.schema)
      \(engine)
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
  }

  func check(_ runDir: String, records expected: Int) throws -> [JSONValue] {
    let results = try readJSONLines(runDir + "/results.jsonl")
    #expect(results.count == expected)
    #expect(results.allSatisfy { $0["schema_valid"]?.boolValue != nil }, "every record says whether it is valid")
    let report = try String(contentsOfFile: runDir + "/report.md", encoding: .utf8)
    #expect(report.contains("## Structured outputs"))
    #expect(report.contains("### Labels of `label`"))
    #expect(report.contains("| label | temperature=0 | temperature=0.8 | temperature=1.5 |"), "one column per temperature")
    for label in ["positive", "negative", "neutral"] { #expect(report.contains("| \(label) | "), "a row for \(label)") }
    let html = try String(contentsOfFile: runDir + "/report.html", encoding: .utf8)
    #expect(html.contains("<section id=\"structured\">"))
    return results
  }

  @Test func simulatorSweepRecordsValidityAndLabelsPerTemperature() async throws {
    let dir = try TestPaths.temporaryDirectory("structured")
    let sim = try TestPaths.binary("ollama-sim")
    try writeJob(in: dir, engine: "engine:\n  kind: sim\n  command: exec '\(sim)' --models tiny --token-ms 0.1 --request-log '\(dir.path)/requests.jsonl'", prompts: 20)
    let submit = try await caravan(["submit", "job.yaml", "--json"], in: dir)
    #expect(submit.status == 0, "\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    let results = try check(runDir, records: 120)
    #expect(results.allSatisfy { $0["schema_valid"] == .bool(true) && $0["parsed"]?["label"]?.stringValue != nil })
    // Greedy answers repeat; at 1.5 the labels spread over more values.
    func labels(_ variant: String) -> [String] {
      results.filter { $0["variant"] == .string(variant) }.compactMap { $0["parsed"]?["label"]?.stringValue }
    }
    #expect(Set(labels("temperature=1.5")).count >= Set(labels("temperature=0")).count)
  }

  @Test(.enabled(if: RealInference.available, "needs the inference venv: scripts/inference-venv.sh"))
  func grammarConstrainedLlamaCppAnswersAreAllValid() async throws {
    let dir = try TestPaths.temporaryDirectory("structured-llama")
    // A real chat model: the random tiny model, though held to the grammar, spends its tokens on
    // the white space JSON allows and runs out before the closing brace.
    let model = try await RealInference.smolLM2()
    let engine = """
      engine:
        kind: openai
        parallel: 2
        ready_timeout: 120
        command: \(try RealInference.serverCommand(model: model, threads: 2))
      """
    try writeJob(in: dir, engine: engine, prompts: 6)
    let submit = try await caravan(["submit", "job.yaml", "--json"], in: dir)
    #expect(submit.status == 0, "\(submit.stdout)\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    let results = try check(runDir, records: 36)
    let invalid = results.filter { $0["schema_valid"] != .bool(true) }.map { $0["response"]?.stringValue ?? "" }
    #expect(invalid.isEmpty, "grammar-constrained decoding gives only valid answers: \(invalid.prefix(3))")
  }
}
