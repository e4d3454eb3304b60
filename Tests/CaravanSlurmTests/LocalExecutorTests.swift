import CaravanProcess
import CaravanCore
import CaravanRender
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanSlurm

@Suite struct LocalExecutorTests {
  /// A job whose "script" is given directly, with `shards` array tasks.
  func job(runDir: URL, shards: Int) -> BatchJob {
    let server = ServerLaunch(runtime: .none, image: "", flags: [], binds: [], command: "true", modelsDir: nil, parallel: 1, env: [:])
    return BatchJob(name: "t", runDir: runDir.path, shardCount: shards, slurm: JobSpec.Slurm(), caravan: "/bin/true", server: server, origin: "test")
  }

  func writeScript(_ text: String, in dir: URL) throws -> String {
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
    let path = dir.appendingPathComponent("job.sbatch").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func runsEveryShardOnceAsAnArrayTaskWithSignalsDeliverable() async throws {
    let dir = try TestPaths.temporaryDirectory("local-exec")
    let script = try writeScript("""
      # /proc/self is grep's own status: bash hands every child the mask bash itself was started with.
      grep -E '^SigBlk' /proc/self/status > "shard-$SLURM_ARRAY_TASK_ID.sig"
      echo "$SLURM_ARRAY_JOB_ID" > "shard-$SLURM_ARRAY_TASK_ID.job"
      """, in: dir)
    let id = try await LocalExecutor(concurrency: 2).submit(job(runDir: dir, shards: 3), scriptPath: script)
    for shard in 0..<3 {
      // The script runs in the run directory, like Slurm's --chdir.
      let blocked = try String(contentsOf: dir.appendingPathComponent("shard-\(shard).sig"), encoding: .utf8)
      // TERM and INT must reach the job script (Swift's worker threads block most signals).
      let mask = UInt64(blocked.split(separator: "\t").last!.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16)!
      #expect(mask & (1 << (SIGTERM - 1)) == 0 && mask & (1 << (SIGINT - 1)) == 0, "shard \(shard): \(blocked)")
      #expect(try String(contentsOf: dir.appendingPathComponent("shard-\(shard).job"), encoding: .utf8) == id + "\n")
    }
  }

  @Test func aFailingShardIsNamedWithItsLog() async throws {
    let dir = try TestPaths.temporaryDirectory("local-fail")
    let script = try writeScript("""
      echo "shard $SLURM_ARRAY_TASK_ID"
      [ "$SLURM_ARRAY_TASK_ID" != 1 ] || { echo "model not found" >&2; exit 3; }
      """, in: dir)
    let error = await #expect(throws: SchedulerError.self, "a shard exited 3 but submit succeeded") {
      try await LocalExecutor(concurrency: 1).submit(job(runDir: dir, shards: 3), scriptPath: script)
    }
    #expect(error?.description.contains("shard 1 exited 3") == true, "\(error?.description ?? "")")
    #expect(error?.description.contains("logs/slurm-local_1.out") == true)
    #expect(try String(contentsOf: dir.appendingPathComponent("logs/slurm-local_1.out"), encoding: .utf8) == "shard 1\nmodel not found\n")
    // The other shards still ran.
    #expect(try String(contentsOf: dir.appendingPathComponent("logs/slurm-local_2.out"), encoding: .utf8) == "shard 2\n")
  }
}

/// The rendered job script under TERM, as Slurm's `--signal=B:TERM@grace` delivers it: the TERM
/// reaches the worker, and the job's exit status is the worker's own once it has drained.
@Suite struct JobScriptSignalTests {
  func run(workerExit: Int) async throws -> Int32 {
    let dir = try TestPaths.temporaryDirectory("term-status")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
    let fake = dir.appendingPathComponent("caravan")
    let ready = dir.appendingPathComponent("worker-ready")
    try writeExecutable(
      """
      #!/bin/bash
      # A worker that drains for a moment on TERM, then exits with the given status.
      trap 'sleep 0.5; exit \(workerExit)' TERM
      touch '\(ready.path)'
      while true; do sleep 0.1; done
      """, to: fake.path)
    let server = ServerLaunch(runtime: .none, image: "", flags: [], binds: [], command: "true", modelsDir: nil, parallel: 1, env: [:])
    let job = BatchJob(name: "t", runDir: dir.path, shardCount: 1, slurm: JobSpec.Slurm(), caravan: fake.path, server: server, origin: "test")
    let script = dir.appendingPathComponent("job.sbatch")
    try ScriptRenderer.render(job).write(to: script, atomically: true, encoding: .utf8)

    let pid = try Spawn.start(["/bin/bash", script.path], environment: ["PATH": "/usr/bin:/bin", "TMPDIR": dir.path])
    while !FileManager.default.fileExists(atPath: ready.path) { try await Task.sleep(for: .milliseconds(50)) }
    kill(pid, SIGTERM)
    return await Spawn.wait(pid)
  }

  @Test func aWorkerThatFinishedAfterTERMEndsTheJobWithItsStatus() async throws {
    #expect(try await run(workerExit: 0) == 0, "all work done during the grace period: the job completed")
    #expect(try await run(workerExit: 143) == 143, "stopped with work left")
  }
}
