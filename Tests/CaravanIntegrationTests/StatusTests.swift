import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// `caravan status` and `caravan cancel` across the states a user meets, on the local cluster.
@Suite(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""))
struct StatusTests {
  /// Submits a one- or two-shard simulator job; `tokenMs` slows the server so the job runs a while.
  func submit(_ name: String, shards: Int = 2, tokenMs: Int = 2, command: String? = nil, slurm: String = "") async throws -> (jobID: String, runDir: String) {
    let dir = try TestPaths.temporaryDirectory("status-\(name)")
    let sim = try TestPaths.binary("ollama-sim")
    try (1...4).map { #"{"id": "q\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n").write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: \(name)
      model: gemma:7b
      prompts: p.jsonl
      engine:
        kind: sim
        parallel: 1
        command: \(command ?? "exec '\(sim)' --models gemma:7b --token-ms \(tokenMs)")
      slurm:
        shards: \(shards)
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

  func status(_ runDir: String) async throws -> [String: Any] {
    let result = try await caravan(["status", runDir, "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    return try jsonObject(result.stdout)
  }

  func shards(_ status: [String: Any]) -> [[String: Any]] { status["shards"] as? [[String: Any]] ?? [] }

  /// Polls until every shard's state is in `states` (or time runs out); returns the last status.
  func waitFor(_ runDir: String, states: Set<String>, timeout: TimeInterval) async throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(timeout)
    var last: [String: Any] = [:]
    while Date() < deadline {
      last = try await status(runDir)
      if shards(last).allSatisfy({ states.contains($0["state"] as? String ?? "") }) { return last }
      try await Task.sleep(for: .milliseconds(500))
    }
    return last
  }

  /// Static: one row a shard, 2 items each. Dynamic: one row a task, with the chunks it claimed.
  @Test(arguments: ["static", "dynamic"])
  func completedJobShowsEveryShardDone(distribution: String) async throws {
    let (_, runDir) = try await submit("st-done-\(distribution)", slurm: "  distribution: \(distribution)")
    let status = try await waitFor(runDir, states: ["COMPLETED"], timeout: 120)
    #expect(status["source"] as? String == "slurmctld")
    #expect(shards(status).count == 2)
    var done = 0
    for shard in shards(status) {
      #expect(shard["state"] as? String == "COMPLETED")
      #expect(shard["exit_code"] as? Int == 0)
      let progress = try #require(shard["progress"] as? [String: Any])
      if distribution == "static" { #expect(progress["done"] as? Int == 2 && progress["items"] as? Int == 2) }
      #expect(progress["done"] as? Int == progress["items"] as? Int)
      done += progress["done"] as? Int ?? 0
      #expect(["n1", "n2", "n3", "n4"].contains(shard["node"] as? String ?? ""))
    }
    #expect(done == 4)
    // The finished-job record (jobcomp here, sacct where accounting runs) knows it too.
    let table = try await caravan(["status", runDir]).stdout
    #expect(table.contains("total: 4/4 done, 0 errors"), "\(table)")
  }

  @Test func heldJobIsPendingWithItsReasonThenCancelled() async throws {
    let (jobID, runDir) = try await submit("st-held", slurm: "  extra: [\"--begin=now+1hour\"]")
    // The controller gives the reason at its next scheduling pass.
    var status: [String: Any] = [:]
    for _ in 0..<60 {
      status = try await waitFor(runDir, states: ["PENDING"], timeout: 30)
      if shards(status).allSatisfy({ $0["reason"] as? String == "BeginTime" }) { break }
      try await Task.sleep(for: .milliseconds(500))
    }
    #expect(shards(status).allSatisfy { $0["state"] as? String == "PENDING" && $0["reason"] as? String == "BeginTime" }, "\(status)")
    #expect(try await runCommand("scontrol", ["hold", jobID]).status == 0)
    status = try await waitFor(runDir, states: ["PENDING"], timeout: 30)
    #expect(shards(status).allSatisfy { ($0["reason"] as? String ?? "").hasPrefix("JobHeld") }, "\(status)")

    let cancel = try await caravan(["cancel", runDir])
    #expect(cancel.status == 0, "\(cancel.stderr)")
    #expect(cancel.stdout.contains("Cancelled job \(jobID)"))
    status = try await waitFor(runDir, states: ["CANCELLED"], timeout: 30)
    #expect(shards(status).allSatisfy { $0["state"] as? String == "CANCELLED" }, "\(status)")
  }

  @Test func serverThatNeverStartsFailsTheShard() async throws {
    let (_, runDir) = try await submit("st-fail", shards: 1, command: "echo no GPU here >&2; exit 3")
    let status = try await waitFor(runDir, states: ["FAILED"], timeout: 60)
    let shard = try #require(shards(status).first)
    #expect(shard["state"] as? String == "FAILED", "\(status)")
    #expect(shard["exit_code"] as? Int == 1)
    // The job's log explains it: wait-ready saw the server exit and shows its log.
    let log = try String(contentsOfFile: runDir + "/logs/" + (try FileManager.default.contentsOfDirectory(atPath: runDir + "/logs").first { $0.hasPrefix("slurm-") })!, encoding: .utf8)
    #expect(log.contains("exited before it answered") && log.contains("no GPU here"), "\(log)")
  }

  @Test func runningThenRequeuedKeepsTheJobIDAndCountsTheRestart() async throws {
    let (jobID, runDir) = try await submit("st-requeue", shards: 1, tokenMs: 400)
    var status = try await waitFor(runDir, states: ["RUNNING"], timeout: 60)
    #expect(shards(status).first?["state"] as? String == "RUNNING")
    // Requeue once the first record has landed: the shard was working, not still starting.
    let results = runDir + "/results/shard-0000.jsonl"
    func recorded() -> Int { ((try? String(contentsOfFile: results, encoding: .utf8)) ?? "").split(separator: "\n").count }
    let deadline = ContinuousClock.now + .seconds(60)
    while recorded() == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
    #expect(recorded() >= 1, "no record in \(results) within 60 s of the job running")
    #expect(try await runCommand("scontrol", ["requeue", jobID]).status == 0)
    status = try await waitFor(runDir, states: ["PENDING"], timeout: 60)
    let shard = try #require(shards(status).first)
    #expect(shard["state"] as? String == "PENDING")
    #expect(shard["restarts"] as? Int == 1, "\(status)")
    #expect(status["job_id"] as? String == jobID)
    #expect(try await caravan(["status", runDir]).stdout.contains("requeued 1x"))
    _ = try await caravan(["cancel", runDir])
  }

  @Test func timeLimitEndsInTimeout() async throws {
    // One minute is Slurm's smallest limit; 4 items × ~20 s each cannot finish in it.
    // Self-requeue off (FaultTests covers it): this is what the limit itself does.
    let (_, runDir) = try await submit("st-timeout", shards: 1, tokenMs: 2000, slurm: "  time: \"1\"\n  max_requeues: 0")
    // Slurm sends --signal=B:TERM up to a minute early: the worker then stops on its own and
    // exits 143 before the limit (FAILED), or the limit strikes first (TIMEOUT).
    let status = try await waitFor(runDir, states: ["TIMEOUT", "FAILED"], timeout: 200)
    let shard = try #require(shards(status).first)
    #expect(shard["state"] as? String == "TIMEOUT" || (shard["state"] as? String == "FAILED" && shard["exit_code"] as? Int == 143), "\(status)")
    let progress = try #require(shard["progress"] as? [String: Any])
    #expect((progress["done"] as? Int ?? 0) < 4)
  }

  @Test func purgedJobFallsBackToTheRunsOwnRecords() async throws {
    let (jobID, runDir) = try await submit("st-purged", shards: 1)
    _ = try await waitFor(runDir, states: ["COMPLETED"], timeout: 120)
    // slurmctld forgets jobs MinJobAge after they end; a job id it never had answers the same
    // "Invalid job id" (2017).
    try #"{"job_id": "987654", "scheduler": "sbatch"}"#.write(toFile: runDir + "/submission.json", atomically: true, encoding: .utf8)
    var status = try await status(runDir)
    #expect(status["source"] as? String == "run records")
    #expect(shards(status).first?["state"] as? String == "COMPLETED")
    // With libslurm recorded as the scheduler, the same fallback applies.
    try #"{"job_id": "987654", "scheduler": "libslurm"}"#.write(toFile: runDir + "/submission.json", atomically: true, encoding: .utf8)
    status = try await self.status(runDir)
    #expect(shards(status).first?["state"] as? String == "COMPLETED", "\(status)")
    // The finished-job log still has the real job: status reads it once slurmctld has forgotten.
    try "{\"job_id\": \"\(jobID)\", \"scheduler\": \"sbatch\"}".write(toFile: runDir + "/submission.json", atomically: true, encoding: .utf8)
    #expect(try await self.status(runDir)["source"] as? String == "slurmctld")
  }
}
