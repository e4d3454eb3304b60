import CaravanCore
import CaravanSlurm
import CaravanStorage
import Foundation

/// `caravan resume`: sends a run's unfinished work again, to the run's own executor and
/// scheduler, with the run's own plan and scripts. Spec changes since then do not apply.
public struct Resumer: Sendable {
  public var caravanPath: String

  public init(caravanPath: String) { self.caravanPath = caravanPath }

  /// What is left of a run.
  public struct Pending: Sendable, Equatable {
    /// Shards with at least one item to send.
    public var shards: [Int]
    /// Items without a record.
    public var missing: Int
    /// Items whose latest record is an error (sent again only with `retryErrors`).
    public var errors: Int
  }

  /// Reads every shard's items and records. An item is pending when it has no record, or with
  /// `retryErrors` when its latest record is an error.
  public static func pending(_ run: RunDirectory, retryErrors: Bool) throws -> Pending {
    var pending = Pending(shards: [], missing: 0, errors: 0)
    for shard in try run.manifest().shards {
      var latest: [WorkKey: ResultRecord.Status] = [:]
      for record in try run.results(shard.index) { latest[record.key] = record.status }
      var left = false
      for item in try run.shardItems(shard.index) {
        switch latest[item.key] {
        case nil:
          pending.missing += 1
          left = true
        case .error?:
          pending.errors += 1
          if retryErrors { left = true }
        case .ok?:
          break
        }
      }
      if left { pending.shards.append(shard.index) }
    }
    return pending
  }

  /// Things the user should know before the work goes out.
  public enum Event: Sendable {
    case note(String)
    case resuming(Pending, scheduler: Submission.Scheduler)
    /// A local run's progress: once when its shards start, then every `progressInterval`.
    case progress(RunProgress)
  }

  public struct Outcome: Sendable {
    public var pending: Pending
    /// Nil when nothing was left to send.
    public var submission: Submission?
    /// A local run is collected once its shards have finished.
    public var collected: Collector.Report?
    public var failure: String?
  }

  public func resume(_ run: RunDirectory, retryErrors: Bool, progressInterval: Duration? = nil, onEvent: @escaping @Sendable (Event) -> Void = { _ in }) async throws -> Outcome {
    let manifest = try run.manifest()
    let previous = try run.submission()
    let pending = try Self.pending(run, retryErrors: retryErrors)
    if let changed = specChanged(run, manifest: manifest) { onEvent(.note(changed)) }
    guard !pending.shards.isEmpty else {
      return Outcome(pending: pending, collected: previous.scheduler == .local ? try Collector.collect(run) : nil)
    }
    // Two jobs sending the same items would write each record twice (and, with dynamic
    // distribution, resume releases the claims the running job holds).
    let status = try await RunStatus.read(run, query: previous.scheduler == .local ? nil : Schedulers.query(recorded: previous.scheduler))
    let active = status.shards.filter { RunStatus.active.contains($0.state) }
    if !active.isEmpty {
      throw RunDirectoryError("the run's job is still going (\(status.stateCounts())); wait for it to end (`caravan status --watch \(run.path)`), or stop it with `caravan cancel \(run.path)`, then resume")
    }
    onEvent(.resuming(pending, scheduler: previous.scheduler))
    var job = BatchJob(
      spec: try run.spec(), runDir: run.path, shardCount: manifest.taskCount, caravan: caravanPath,
      engineCommand: "", origin: "resume of \(manifest.runID)")
    if manifest.distribution == .dynamic {
      // The job is gone, so no claim is held: the new tasks claim every unfinished chunk at once.
      _ = try ChunkClaims.release(in: run.layout, pending: Set(pending.shards))
      let tasks = min(manifest.taskCount, pending.shards.count)
      if job.slurm.layout == .nodes { job.shardCount = tasks } else { job.shards = Array(0..<tasks) }
    } else {
      job.shards = pending.shards
    }
    // The worker reads this; the job inherits caravan's environment (sbatch and libslurm both
    // export it, and local shards are this process's children).
    if retryErrors { setenv("CARAVAN_RETRY_ERRORS", "1", 1) } else { unsetenv("CARAVAN_RETRY_ERRORS") }
    switch previous.scheduler {
    case .local:
      let local = LocalExecutor()
      let submission = Submission(jobID: local.jobID, scheduler: .local, submittedAt: Date().ISO8601Format())
      try run.record(submission)
      var failure: String?
      let script = run.layout.script, resumed = job
      do {
        _ = try await ProgressWatch.around(run, every: progressInterval, report: { onEvent(.progress($0)) }) {
          try await local.submit(resumed, scriptPath: script)
        }
      } catch {
        failure = "\(error)"
      }
      return Outcome(pending: pending, submission: submission, collected: try Collector.collect(localRun: run, failure: failure), failure: failure)
    case .libslurm, .sbatch:
      let (scheduler, _) = try Schedulers.choose(previous.scheduler == .sbatch ? .sbatch : .libslurm)
      let jobID = try await scheduler.submit(job, scriptPath: run.layout.script)
      let submission = Submission(jobID: jobID, scheduler: scheduler.kind, submittedAt: Date().ISO8601Format())
      try run.record(submission)
      return Outcome(pending: pending, submission: submission)
    }
  }

  /// A note when the spec file no longer reads as it did at submit (its copy is `spec.yaml`).
  func specChanged(_ run: RunDirectory, manifest: Manifest) -> String? {
    guard let now = try? String(contentsOfFile: manifest.specFile, encoding: .utf8),
      let then = try? String(contentsOfFile: run.layout.specCopy, encoding: .utf8), now != then
    else { return nil }
    return "\(manifest.specFile) changed since this run was submitted; resume sends the run's own plan (spec.yaml, shards/), not the new spec. Submit the spec again for a new run."
  }
}
