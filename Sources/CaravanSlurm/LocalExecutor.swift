import CaravanCore
import CaravanProcess
import Foundation

/// Runs every shard of a job as a local process with the same script Slurm would run.
///
/// For laptops and login-node rehearsals without a cluster. `submit` returns when all shards
/// have finished; each shard's output goes where Slurm's would (`logs/slurm-local_N.out`).
public struct LocalExecutor: Scheduler {
  public var kind: Submission.Scheduler { .local }
  /// Shards run at the same time (each starts its own server).
  public var concurrency: Int
  /// Known before the run starts, so `submission.json` can be written first.
  public let jobID = "local-\(getpid())"

  public init(concurrency: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)) {
    self.concurrency = max(1, concurrency)
  }

  /// Runs every shard and returns once all have finished.
  public func submit(_ job: BatchJob, scriptPath: String) async throws -> String {
    let failures = try await withThrowingTaskGroup(of: (Int, Int32).self) { group in
      let shards = job.shardIndices
      var next = 0, running = 0
      var failed: [(Int, Int32)] = []
      while next < shards.count || running > 0 {
        while running < concurrency, next < shards.count {
          let shard = shards[next]
          group.addTask { (shard, try await runShard(shard, job: job, scriptPath: scriptPath, jobID: jobID)) }
          next += 1
          running += 1
        }
        if let (shard, status) = try await group.next() {
          running -= 1
          if status != 0 { failed.append((shard, status)) }
        }
      }
      return failed
    }
    guard failures.isEmpty else {
      let list = failures.sorted { $0.0 < $1.0 }.map { "shard \($0.0) exited \($0.1) (see \(job.runDir)/logs/slurm-local_\($0.0).out)" }
      throw SchedulerError("local run \(jobID) failed: " + list.joined(separator: "; "))
    }
    return jobID
  }

  private func runShard(_ shard: Int, job: BatchJob, scriptPath: String, jobID: String) async throws -> Int32 {
    let log = "\(job.runDir)/logs/slurm-local_\(shard).out"
    // The run's mode, whatever this process's umask (CaravanSlurm cannot use CaravanStorage's RunFileModes).
    let fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    if fd >= 0 { fchmod(fd, mode_t(job.permissions.file)) }
    guard fd >= 0 else { throw SchedulerError("cannot write \(log): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var environment = ProcessInfo.processInfo.environment
    environment["SLURM_ARRAY_TASK_ID"] = String(shard)
    environment["SLURM_ARRAY_JOB_ID"] = jobID
    environment["CARAVAN_EXECUTOR"] = "local"
    let pid = try Spawn.start(["/bin/bash", scriptPath], environment: environment, directory: job.runDir, stdout: fd, stderr: fd)
    return await withTaskCancellationHandler {
      await Spawn.wait(pid)
    } onCancel: {
      kill(pid, SIGTERM)
    }
  }
}
