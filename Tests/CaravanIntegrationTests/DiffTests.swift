import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// `caravan diff` on real runs of the simulator: a greedy run (temperature 0) against itself is
/// identical everywhere; against a temperature-1 run of the same prompts it is not.
@Suite struct DiffTests {
  func run(temperature: Double, prompts: Int, in dir: URL, name: String) async throws -> String {
    let sim = try TestPaths.binary("ollama-sim")
    try (1...prompts).map { #"{"id": "q\#($0)", "prompt": "Tell me about topic \#($0) in a few words"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("\(name).jsonl"), atomically: true, encoding: .utf8)
    try """
      name: \(name)
      model: gemma:7b
      prompts: \(name).jsonl
      repeats: 2
      executor: local
      variants:
        - name: v
          options: {temperature: \(temperature), num_predict: 24}
      engine:
        kind: sim
        command: exec '\(sim)' --models gemma:7b --token-ms 0.1
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
    let submit = try await caravan(["submit", "\(name).yaml", "--json"], in: dir)
    try #require(submit.status == 0, "\(submit.stderr)")
    return try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
  }

  @Test func greedyRunIsIdenticalToItselfAndNotToAHotRun() async throws {
    let dir = try TestPaths.temporaryDirectory("diff")
    let cold = try await run(temperature: 0, prompts: 12, in: dir, name: "cold")
    let coldAgain = try await run(temperature: 0, prompts: 12, in: dir, name: "cold2")
    let hot = try await run(temperature: 1, prompts: 10, in: dir, name: "hot")

    let same = try await caravan(["diff", cold, coldAgain, "--out", dir.appendingPathComponent("same").path, "--json"])
    #expect(same.status == 0, "\(same.stderr)")
    let sameVariant = try #require((try jsonObject(same.stdout)["variants"] as? [[String: Any]])?.first)
    #expect(sameVariant["variant"] as? String == "v")
    #expect(sameVariant["pairs"] as? Int == 24)
    #expect(sameVariant["identical_share"] as? Double == 1.0)

    let other = try await caravan(["diff", cold, hot, "--out", dir.appendingPathComponent("other").path, "--json"])
    #expect(other.status == 0, "\(other.stderr)")
    let summary = try jsonObject(other.stdout)
    let otherVariant = try #require((summary["variants"] as? [[String: Any]])?.first)
    let share = try #require(otherVariant["identical_share"] as? Double)
    #expect(share < 1.0, "a temperature-1 run changes answers")
    #expect(otherVariant["pairs"] as? Int == 20, "10 common prompts × 2 repeats")
    #expect(summary["keys_only_in_a"] as? Int == 4 && summary["keys_only_in_b"] as? Int == 0, "prompts 11 and 12, twice each")

    let csv = try String(contentsOfFile: dir.appendingPathComponent("other/diff.csv").path, encoding: .utf8).split(separator: "\n")
    #expect(csv.count == 2 && csv[1].hasPrefix("v,20,"))
    let markdown = try String(contentsOfFile: dir.appendingPathComponent("other/diff.md").path, encoding: .utf8)
    #expect(markdown.contains("Keys only in A: 4; only in B: 0."))
    #expect(markdown.contains("## Answers that changed most") && !markdown.contains("Every compared answer is identical."))

    // Not a run directory: bad input, exit 64, nothing written.
    let bad = try await caravan(["diff", cold, dir.path, "--out", dir.appendingPathComponent("bad").path])
    #expect(bad.status == 64, "\(bad.stderr)")
    #expect(bad.stderr.contains("not a Caravan run directory"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path))
  }
}
