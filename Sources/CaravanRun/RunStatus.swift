import CaravanStorage
import CaravanCore
import CaravanSlurm
import Foundation

/// `caravan status`: each shard's scheduler state merged with its progress from the run directory.
public struct RunStatus: Sendable, Encodable {
  /// One shard (Slurm array task).
  public struct Shard: Sendable, Encodable, Equatable {
    public var index: Int
    /// Slurm's state (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...), or what the
    /// run's own records say once Slurm has forgotten the job.
    public var state: String
    public var reason: String?
    public var node: String?
    public var exitCode: Int?
    public var restarts: Int
    public var progress: RunProgress.Shard

    enum CodingKeys: String, CodingKey {
      case index, state, reason, node, restarts, progress
      case exitCode = "exit_code"
    }
  }

  public var runDir: String
  public var name: String
  public var jobID: String?
  public var scheduler: String?
  /// Where the states come from: `slurmctld`, `accounting` (sacct or the jobcomp log), `run records`.
  public var source: String
  public var shards: [Shard]

  /// True when no shard can change any more.
  public var isFinished: Bool { shards.allSatisfy { Self.terminal.contains($0.state) } }

  static let terminal: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "INCOMPLETE"]

  enum CodingKeys: String, CodingKey {
    case name, scheduler, source, shards
    case runDir = "run_dir"
    case jobID = "job_id"
  }

  /// The job id and scheduler `caravan submit` recorded in `submission.json`.
  public static func submission(_ run: RunDirectory) -> Submission? {
    try? run.submission()
  }

  public static func read(_ run: RunDirectory, query: (any JobQuerying)?) async throws -> RunStatus {
    let manifest = try run.manifest()
    let progress = try RunProgress.read(run)
    let submission = submission(run)
    var status = RunStatus(runDir: run.path, name: manifest.name, jobID: submission?.jobID, scheduler: submission?.scheduler.rawValue, source: "run records", shards: [])
    var bySlurm: [Int: SlurmJobState.Task] = [:]
    var finished: [Int: String] = [:]
    if let submission, let query, submission.scheduler != .local {
      do {
        let state = try await query.jobState(jobID: submission.jobID)
        for task in state.tasks {
          for index in task.arrayTaskID.map({ [$0] }) ?? expand(task.pendingArrayTasks ?? "", below: manifest.shards.count) { bySlurm[index] = task }
        }
        status.source = "slurmctld"
      } catch let error as SlurmError where error.code == SlurmError.invalidJobID {
        finished = await FinishedJobs.states(jobID: submission.jobID)
      } catch is SlurmGone {
        finished = await FinishedJobs.states(jobID: submission.jobID)
      }
      if !finished.isEmpty { status.source = "accounting" }
    }
    for shard in progress.shards {
      if let task = bySlurm[shard.index] {
        status.shards.append(Shard(index: shard.index, state: task.state, reason: task.reason == "None" ? nil : task.reason, node: task.nodes, exitCode: Self.terminal.contains(task.state) ? task.exitCode : nil, restarts: task.restarts, progress: shard))
      } else if let state = finished[shard.index] {
        status.shards.append(Shard(index: shard.index, state: state, restarts: 0, progress: shard))
      } else {
        // Nothing from Slurm: the records say whether the shard's work is done.
        status.shards.append(Shard(index: shard.index, state: shard.complete ? "COMPLETED" : (submission?.scheduler == .local ? "INCOMPLETE" : "UNKNOWN"), restarts: 0, progress: shard))
      }
    }
    return status
  }

  /// `0-2,5` or `[0-2]%4` -> [0, 1, 2, 5], keeping only indices below `limit` (the run's shard
  /// count): the text is Slurm's, and a range such as `0-4294967294` must not become an array.
  static func expand(_ text: String, below limit: Int) -> [Int] {
    let body = text.split(separator: "%").first.map(String.init) ?? text
    var result: [Int] = []
    for part in body.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",") {
      let bounds = part.split(separator: "-").compactMap { Int($0) }
      if bounds.count == 2 {
        let low = max(0, bounds[0]), high = min(bounds[1], limit - 1)
        if low <= high { result += Array(low...high) }
      } else if bounds.count == 1, (0..<max(0, limit)).contains(bounds[0]) {
        result.append(bounds[0])
      }
    }
    return result
  }
}
