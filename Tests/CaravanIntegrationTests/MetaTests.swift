import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// A prompt line's `meta` (labels, gold answers: any JSON) reaches every record of that line
/// through a real run: the plan, the shard file, the worker, collect, and the OpenAI output.
@Suite struct MetaTests {
  @Test func metaOnPromptLinesAppearsInResults() async throws {
    let dir = try TestPaths.temporaryDirectory("meta")
    let sim = try TestPaths.binary("ollama-sim")
    try """
      {"id": "r1", "prompt": "Is this review positive? Great phone.", "meta": {"label": "positive", "gold": [1, {"x": null}], "source": "ünïcode ✓"}}
      {"id": "r2", "prompt": "Is this review positive? Broke in a day."}
      {"id": "r3", "prompt": "Third", "meta": "just text"}
      """.write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: meta
      model: gemma:7b
      prompts: p.jsonl
      repeats: 2
      executor: local
      engine:
        kind: sim
        command: exec '\(sim)' --models gemma:7b --token-ms 0.1
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    let submit = try await caravan(["submit", "job.yaml", "--json"], in: dir)
    #expect(submit.status == 0, "\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    let results = try readJSONLines(runDir + "/results.jsonl")
    #expect(results.count == 6)
    let expected: JSONValue = .object(["label": .string("positive"), "gold": .array([.int(1), .object(["x": .null])]), "source": .string("ünïcode ✓")])
    #expect(results.filter { $0["id"] == .string("r1") }.map { $0["meta"] } == [expected, expected])
    #expect(results.filter { $0["id"] == .string("r2") }.allSatisfy { $0["meta"] == nil || $0["meta"] == .null })
    #expect(results.filter { $0["id"] == .string("r3") }.allSatisfy { $0["meta"] == .string("just text") })

    let openai = try await caravan(["collect", runDir, "--format", "openai"])
    #expect(openai.status == 0, "\(openai.stderr)")
    let lines = try readJSONLines(runDir + "/results.openai.jsonl")
    let r1 = lines.filter { ($0["custom_id"]?.stringValue ?? "").hasPrefix("r1") }
    #expect(r1.count == 2 && r1.allSatisfy { $0["meta"] == expected }, "\(lines.first ?? .null)")
  }
}
