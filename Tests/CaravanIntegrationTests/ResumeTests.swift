import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// `caravan resume`: a run finishes what it left, with its own plan, and nothing twice.
@Suite struct ResumeTests {
  /// A local job on the simulator whose flags come from a file, so a test can break the server
  /// and fix it again without touching the run.
  func writeJob(prompts: Int = 4, shards: Int = 2, distribution: String = "dynamic") throws -> (spec: URL, flags: URL) {
    let dir = try TestPaths.temporaryDirectory("resume")
    let sim = try TestPaths.binary("ollama-sim")
    let flags = dir.appendingPathComponent("sim-flags")
    try (1...prompts).map { #"{"id": "q\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: resume
      model: gemma:7b
      prompts: p.jsonl
      repeats: 2
      executor: local
      engine:
        kind: sim
        parallel: 4
        command: exec '\(sim)' --models gemma:7b --token-ms 1 $(cat '\(flags.path)')
      slurm: {shards: \(shards), distribution: \(distribution)}
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    return (dir.appendingPathComponent("job.yaml"), flags)
  }

  @Test func retryErrorsTurnsEveryErrorIntoAnOkRecord() async throws {
    let (spec, flags) = try writeJob()
    // Every streamed answer breaks after its first token: each item uses up its retries.
    try "--mid-stream-error-every 1".write(to: flags, atomically: true, encoding: .utf8)
    let submit = try await caravan(["submit", spec.path, "--json"])
    #expect(submit.status == 3, "\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    #expect(try await caravan(["collect", runDir]).status == 3)

    // Without --retry-errors there is nothing to resume: error records are final.
    let idle = try await caravan(["resume", runDir])
    #expect(idle.status == 3 && idle.stdout.contains("Nothing to resume"), "\(idle.stdout)\(idle.stderr)")

    // The server is fixed; the errors are sent again.
    try "".write(to: flags, atomically: true, encoding: .utf8)
    let resume = try await caravan(["resume", "--retry-errors", runDir])
    #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
    let collect = try await caravan(["collect", runDir])
    #expect(collect.status == 0, "\(collect.stdout)\(collect.stderr)")
    #expect(!collect.stdout.contains("records; the last one was kept"), "a retried error is not a duplicate")
    let results = try readJSONLines(runDir + "/results.jsonl")
    #expect(results.count == 8 && results.allSatisfy { $0["status"] == .string("ok") })
    // Each record counts the five failed tries of the first run too.
    #expect(results.allSatisfy { ($0["attempts"]?.intValue ?? 0) >= 6 }, "\(results.map { $0["attempts"] ?? .null })")
  }

  /// Static: shard 1's file loses its last two records. Dynamic: so does the file of chunk 1
  /// (a chunk of one item here), which is marked done: resume claims it again.
  @Test(arguments: ["static", "dynamic"])
  func missingItemsAreSentOnceAndOnlyThose(distribution: String) async throws {
    let (spec, flags) = try writeJob(prompts: 6, distribution: distribution)
    try "".write(to: flags, atomically: true, encoding: .utf8)
    let submit = try await caravan(["submit", spec.path, "--json"])
    #expect(submit.status == 0, "\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    // Shard 1 loses its last two records, as if its job had been killed.
    let shard1 = runDir + "/results/shard-0001.jsonl"
    let lines = try String(contentsOfFile: shard1, encoding: .utf8).split(separator: "\n")
    try (lines.dropLast(2).joined(separator: "\n") + "\n").write(toFile: shard1, atomically: true, encoding: .utf8)
    let shard0Before = try String(contentsOfFile: runDir + "/results/shard-0000.jsonl", encoding: .utf8)
    #expect(try await caravan(["collect", runDir]).status == 2)

    let resume = try await caravan(["resume", "--json", runDir])
    #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
    #expect(try jsonObject(resume.stdout)["shards"] as? [Int] == [1], "only the shard with work left")
    #expect(try String(contentsOfFile: runDir + "/results/shard-0000.jsonl", encoding: .utf8) == shard0Before)
    let shardLines = try readJSONLines(shard1)
    #expect(shardLines.count == lines.count, "the two missing items, once each")
    let results = try readJSONLines(runDir + "/results.jsonl")
    let keys = results.map { "\($0["id"]!.stringValue!)|\($0["repeat"]!.intValue!)" }
    #expect(keys.count == 12 && Set(keys).count == 12)
  }
}
