import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// A run from a user's side: a local run shows its progress, and `status --watch` piped into a
/// script prints a line per refresh and ends with a word and an exit code.
@Suite struct LocalWatchTests {
  func writeJob(_ name: String, items: Int = 3, simFlags: String) throws -> URL {
    let dir = try TestPaths.temporaryDirectory(name)
    let sim = try TestPaths.binary("ollama-sim")
    try (1...items).map { #"{"id": "q\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: \(name)
      model: gemma:7b
      prompts: p.jsonl
      executor: local
      engine:
        kind: sim
        parallel: 2
        command: exec '\(sim)' --models gemma:7b \(simFlags)
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    return dir.appendingPathComponent("job.yaml")
  }

  @Test func aLocalRunPrintsProgressLinesInOrderWhenPiped() async throws {
    // 12 items of 10 tokens at 30 ms a token, 2 at a time: about 2 s.
    let spec = try writeJob("progress", items: 12, simFlags: "--token-ms 30")
    let result = try await caravan(["submit", spec.path, "--progress-interval", "0.2"])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n").map(String.init)
    let progress = lines.filter { $0.hasPrefix("progress: ") }
    #expect(progress.count >= 3, "\(result.stdout)")
    #expect(progress.first == "progress: 0/12 done (0%), 0 errors, ETA -")
    #expect(progress.contains { $0.contains(" tok/s decode, ETA ") && !$0.hasPrefix("progress: 0/") }, "\(progress)")
    #expect(!result.stdout.contains("\u{1B}") && !result.stdout.contains("\r"))
    // Line-buffered: the lines arrive in the order they were written, though stdout is a file.
    let running = try #require(lines.firstIndex { $0.hasPrefix("Running 12 work items") })
    let finished = try #require(lines.firstIndex { $0.hasPrefix("Finished: 12 ok") })
    let first = try #require(lines.firstIndex { $0.hasPrefix("progress: ") })
    let last = try #require(lines.lastIndex { $0.hasPrefix("progress: ") })
    #expect(running < first && last < finished, "\(result.stdout)")
  }

  @Test func withJSONProgressGoesToStderrAndStdoutIsOnlyJSON() async throws {
    let spec = try writeJob("progress-json", simFlags: "--token-ms 1")
    let result = try await caravan(["submit", spec.path, "--json", "--progress-interval", "0.2"])
    #expect(result.status == 0, "\(result.stderr)")
    _ = try jsonObject(result.stdout)
    #expect(result.stderr.contains("progress: 0/3 done (0%)"))
  }

  @Test func resumingALocalRunByARelativePathShowsProgressFromWhereItWas() async throws {
    let spec = try writeJob("progress-resume", simFlags: "--token-ms 1")
    let submit = try await caravan(["submit", spec.path, "--json"])
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    let results = runDir + "/results/shard-0000.jsonl"
    let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
    try (lines.prefix(2).joined(separator: "\n") + "\n").write(toFile: results, atomically: true, encoding: .utf8)
    // From the spec's folder, as a user types it: `caravan resume runs/<name>`.
    let folder = spec.deletingLastPathComponent()
    let relative = String(runDir.dropFirst(folder.path.count + 1))
    let resume = try await caravan(["resume", relative, "--progress-interval", "0.2"], in: folder)
    #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
    #expect(resume.stdout.contains("progress: 2/3 done (66%), 0 errors"), "\(resume.stdout)")
    #expect(resume.stdout.contains("Finished: 3 ok, 0 errors, 0 missing."))
  }

  @Test func statusWatchEndsWithAWordAndTheExitCodeOfTheOutcome() async throws {
    let ok = try await caravan(["submit", try writeJob("watch-ok", simFlags: "--token-ms 1").path, "--json"])
    let okDir = try #require(try jsonObject(ok.stdout)["run_dir"] as? String)
    let complete = try await caravan(["status", okDir, "--watch", "--interval", "0.1"])
    #expect(complete.status == 0, "\(complete.stderr)")
    #expect(complete.stdout.contains("COMPLETED 1; 3/3 done (100%), 0 errors"))
    #expect(complete.stdout.hasSuffix("complete: all 3 work items ok. Merge them with `caravan collect \(okDir)`.\n"))
    #expect(!complete.stdout.contains("\u{1B}"))

    let failing = try await caravan(["submit", try writeJob("watch-errors", simFlags: "--token-ms 1 --mid-stream-error-every 1").path, "--json"])
    let errorDir = try #require(try jsonObject(failing.stdout)["run_dir"] as? String)
    let errors = try await caravan(["status", errorDir, "--watch"])
    #expect(errors.status == 3)
    #expect(errors.stdout.contains("complete with errors: every work item has a record, and 3 of 3 are errors."))

    // The local run is over and a record is missing: work is left and nothing runs it.
    let results = okDir + "/results/shard-0000.jsonl"
    let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
    try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: results, atomically: true, encoding: .utf8)
    let incomplete = try await caravan(["status", okDir, "--watch"])
    #expect(incomplete.status == 2)
    #expect(incomplete.stdout.contains("incomplete: job local-"))
    #expect(incomplete.stdout.contains("1 of 3 work items have no record. Send them again with `caravan resume \(okDir)`."))
    // Without --watch, status only reports.
    #expect(try await caravan(["status", okDir]).status == 0)
  }
}

/// `status --watch` on the local Slurm cluster, piped.
@Suite(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""))
struct ClusterWatchTests {
  func submit(_ name: String, slurm: String = "") async throws -> (jobID: String, runDir: String) {
    let dir = try TestPaths.temporaryDirectory(name)
    let sim = try TestPaths.binary("ollama-sim")
    try (1...4).map { #"{"id": "q\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n").write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: \(name)
      model: gemma:7b
      prompts: p.jsonl
      engine:
        kind: sim
        parallel: 1
        command: exec '\(sim)' --models gemma:7b --token-ms 2
      slurm:
        shards: 2
        gpus_per_node: 0
        grace: 10
      \(slurm)
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    let result = try await caravan(["submit", dir.appendingPathComponent("job.yaml").path, "--executor", "slurm", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try jsonObject(result.stdout)
    return (try #require(object["job_id"] as? String), try #require(object["run_dir"] as? String))
  }

  @Test func aWatchedJobEndsCompleteWithExitZero() async throws {
    let (_, runDir) = try await submit("watch-slurm")
    let watch = try await caravan(["status", runDir, "--watch", "--interval", "0.5"])
    #expect(watch.status == 0, "\(watch.stdout)\(watch.stderr)")
    #expect(!watch.stdout.contains("\u{1B}"))
    let lines = watch.stdout.split(separator: "\n")
    #expect(lines.contains { $0.contains("4/4 done (100%)") })
    #expect(lines.last?.hasPrefix("complete: all 4 work items ok.") == true, "\(watch.stdout)")
  }

  @Test func aCancelledJobWithWorkLeftEndsIncompleteAndPointsToResume() async throws {
    let (jobID, runDir) = try await submit("watch-cancel", slurm: "  extra: [\"--begin=now+1hour\"]")
    #expect(try await caravan(["cancel", runDir]).status == 0)
    let watch = try await caravan(["status", runDir, "--watch", "--interval", "0.5"])
    #expect(watch.status == 2, "\(watch.stdout)\(watch.stderr)")
    #expect(watch.stdout.contains("incomplete: job \(jobID) is no longer running or pending"), "\(watch.stdout)")
    #expect(watch.stdout.contains("4 of 4 work items have no record. Send them again with `caravan resume \(runDir)`."))
  }
}
