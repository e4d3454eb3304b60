import CaravanCore
import CaravanSlurm
import CaravanStorage
import Foundation

/// `caravan submit --add-shards N RUN_DIR`: more array tasks for a run that is going. With
/// dynamic distribution they claim chunks like the run's own tasks, so the run ends sooner;
/// a task that finds nothing left exits at once.
public struct TaskAdder: Sendable {
  public var caravanPath: String

  public init(caravanPath: String) { self.caravanPath = caravanPath }

  /// Submits `count` tasks with the next array indices, and records their job in `submission.json`.
  public func add(_ count: Int, to run: RunDirectory) async throws -> Submission.Added {
    let manifest = try run.manifest()
    var submission = try run.submission()
    let spec = try run.spec()
    guard count >= 1 else { throw RunDirectoryError("--add-shards takes a number of tasks of at least 1, got \(count)") }
    guard manifest.distribution == .dynamic else {
      throw RunDirectoryError("\(run.path) uses static distribution: each task runs its own shard, so an added task would have nothing to do. Submit the spec again with slurm.distribution: dynamic (the default with more than one shard)")
    }
    guard spec.slurm.layout == .array else {
      throw RunDirectoryError("\(run.path) runs as one job of \(manifest.taskCount) nodes (slurm.layout: nodes); tasks can be added to a job array only. Submit the spec again with more shards")
    }
    guard submission.scheduler != .local else {
      throw RunDirectoryError("\(run.path) runs as local processes; tasks can be added to a Slurm run only")
    }
    let first = submission.taskCount(manifest)
    var job = BatchJob(spec: spec, runDir: run.path, shardCount: first + count, caravan: caravanPath, engineCommand: "", origin: "tasks added to \(manifest.runID)")
    job.shards = Array(first..<first + count)
    let (scheduler, _) = try Schedulers.choose(submission.scheduler == .sbatch ? .sbatch : .libslurm)
    try await scheduler.checkArraySize(job, added: true)
    let jobID = try await scheduler.submit(job, scriptPath: run.layout.script)
    let added = Submission.Added(jobID: jobID, first: first, count: count)
    submission.added = (submission.added ?? []) + [added]
    try run.record(submission)
    return added
  }
}
