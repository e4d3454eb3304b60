import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// The exit codes a script relies on (README, "Exit codes"): 0 every item ok, 64 bad input,
/// 2 incomplete, 3 complete but with error records.
@Suite struct ExitCodeTests {
  func writeJob(simFlags: String) throws -> URL {
    let dir = try TestPaths.temporaryDirectory("exit")
    let sim = try TestPaths.binary("ollama-sim")
    try (1...3).map { #"{"id": "q\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: exit
      model: gemma:7b
      prompts: p.jsonl
      executor: local
      engine:
        kind: sim
        parallel: 3
        command: exec '\(sim)' --models gemma:7b --token-ms 1 \(simFlags)
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    return dir.appendingPathComponent("job.yaml")
  }

  @Test func aRunWhoseEveryRequestFailsExitsThree() async throws {
    // Every streamed answer breaks after its first token: each item uses up its retries.
    let spec = try writeJob(simFlags: "--mid-stream-error-every 1")
    let submit = try await caravan(["submit", spec.path, "--json"])
    #expect(submit.status == 3, "submit: \(submit.stderr)")
    let output = try jsonObject(submit.stdout)
    #expect(output["errors"] as? Int == 3 && output["ok"] as? Int == 0)
    let runDir = try #require(output["run_dir"] as? String)
    let collect = try await caravan(["collect", runDir])
    #expect(collect.status == 3, "collect: \(collect.stderr)")
    #expect(collect.stderr.contains("3 work items ended with an error"))
  }

  @Test func aCompleteRunExitsZeroAndAnIncompleteOneTwo() async throws {
    let spec = try writeJob(simFlags: "")
    let submit = try await caravan(["submit", spec.path, "--json"])
    #expect(submit.status == 0, "\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    #expect(try await caravan(["collect", runDir]).status == 0)
    // Take one record away: the run is incomplete.
    let results = runDir + "/results/shard-0000.jsonl"
    let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
    try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: results, atomically: true, encoding: .utf8)
    #expect(try await caravan(["collect", runDir]).status == 2)
    #expect(try await caravan(["collect", "--partial", runDir]).status == 0)
  }

  @Test func badInputExits64() async throws {
    let spec = try writeJob(simFlags: "")
    try "name: exit\nmodel: gemma:7b\nprompts: p.jsonl\nrepeats: many\n".write(to: spec, atomically: true, encoding: .utf8)
    #expect(try await caravan(["submit", spec.path]).status == 64)
    #expect(try await caravan(["validate", spec.path]).status == 64)
  }
}
