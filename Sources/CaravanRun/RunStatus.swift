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
  /// One row a task: with static distribution task i runs shard i; with dynamic, a task's
  /// progress is that of the chunks it claimed last.
  public var shards: [Shard]
  /// Dynamic distribution: the progress of every chunk, claimed or not (the rows leave out
  /// chunks nobody claimed yet).
  var chunks: RunProgress?
  /// How the run's tasks get their work: with `dynamic`, `shards` holds one row a task.
  public var distribution: JobSpec.Slurm.Distribution = .static

  /// The run's progress, from its records.
  public var progress: RunProgress { chunks ?? RunProgress(shards: shards.map(\.progress)) }

  /// How a watched run ended, or nil while a shard is still running or pending.
  public enum Outcome: Sendable, Equatable {
    /// Every item has an ok record.
    case complete
    /// Every item has a record, and this many are errors.
    case completeWithErrors(Int)
    /// Nothing runs the run any more (finished, cancelled, forgotten by the scheduler, or never
    /// submitted), and this many items have no record.
    case incomplete(missing: Int)

    /// The exit code of `caravan status --watch` (README, "Exit codes"): 0, 3 or 2.
    public var exitStatus: Int32 {
      switch self {
      case .complete: 0
      case .completeWithErrors: 3
      case .incomplete: 2
      }
    }
  }

  /// Nil while any shard is pending or running; a shard whose state nobody knows any more
  /// (`UNKNOWN`: neither slurmctld nor accounting has the job) is gone, not running.
  public var outcome: Outcome? {
    guard shards.allSatisfy({ Self.terminal.contains($0.state) || $0.state == Self.gone }) else { return nil }
    let progress = self.progress
    if progress.done < progress.total { return .incomplete(missing: progress.total - progress.done) }
    return progress.errors > 0 ? .completeWithErrors(progress.errors) : .complete
  }

  /// What `status --watch` says at the end: a word, then what to do.
  public func outcomeLine(_ outcome: Outcome) -> String {
    let progress = self.progress
    switch outcome {
    case .complete:
      return "complete: all \(grouped(progress.total)) work items ok. Merge them with `caravan collect \(runDir)`."
    case .completeWithErrors(let errors):
      return "complete with errors: every work item has a record, and \(grouped(errors)) of \(grouped(progress.total)) are errors. `caravan collect \(runDir)` lists them in errors.jsonl; `caravan resume --retry-errors \(runDir)` sends them again."
    case .incomplete(let missing):
      let job: String
      if let jobID {
        job = "job \(jobID) is no longer running or pending (\(stateCounts()))"
      } else {
        job = "the run was never submitted"
      }
      let next = jobID == nil ? "Submit its spec with `caravan submit`." : "Send them again with `caravan resume \(runDir)`."
      return "incomplete: \(job), and \(grouped(missing)) of \(grouped(progress.total)) work items have no record. \(next)"
    }
  }

  /// `RUNNING 2, PENDING 1`: shards per state, in the order the states first appear.
  public func stateCounts() -> String {
    var order: [String] = [], counts: [String: Int] = [:]
    for shard in shards {
      if counts[shard.state] == nil { order.append(shard.state) }
      counts[shard.state, default: 0] += 1
    }
    return order.map { "\($0) \(counts[$0]!)" }.joined(separator: ", ")
  }

  /// One line per refresh of a piped `status --watch`: shard states, then the progress line.
  public func watchLine(since baseline: RunProgress?, elapsedSeconds: Double) -> String {
    "\(stateCounts()); " + progress.line(since: baseline, elapsedSeconds: elapsedSeconds)
  }

  /// The state of a shard that neither the scheduler nor the run's records account for.
  static let gone = "UNKNOWN"

  /// States of a task that runs, or will: its job is still going.
  public static let active: Set<String> = ["PENDING", "RUNNING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT"]

  static let terminal: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "INCOMPLETE"]

  enum CodingKeys: String, CodingKey {
    case name, scheduler, source, shards, distribution
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
    let taskCount = submission?.taskCount(manifest) ?? manifest.taskCount
    if let submission, let query, submission.scheduler != .local {
      for jobID in submission.jobIDs {
        do {
          let state = try await query.jobState(jobID: jobID)
          for task in state.tasks {
            // A `layout: nodes` job is one task (no array index): it runs every task of the run.
            let indices = task.arrayTaskID.map { [$0] } ?? (task.pendingArrayTasks.map { expand($0, below: taskCount) } ?? Array(0..<taskCount))
            for index in indices { bySlurm[index] = task }
          }
          status.source = "slurmctld"
        } catch let error as SlurmError where error.code == SlurmError.invalidJobID {
          finished.merge(await FinishedJobs.states(jobID: jobID)) { $1 }
        } catch is SlurmGone {
          finished.merge(await FinishedJobs.states(jobID: jobID)) { $1 }
        }
      }
      if !finished.isEmpty, bySlurm.isEmpty { status.source = "accounting" }
    }
    let rows = manifest.distribution == .dynamic ? try taskRows(run, chunks: progress, tasks: taskCount) : progress.shards
    if manifest.distribution == .dynamic { status.chunks = progress }
    status.distribution = manifest.distribution
    for shard in rows {
      if let task = bySlurm[shard.index] {
        status.shards.append(Shard(index: shard.index, state: task.state, reason: task.reason == "None" ? nil : task.reason, node: task.nodes, exitCode: Self.terminal.contains(task.state) ? task.exitCode : nil, restarts: task.restarts, progress: shard))
      } else if let state = finished[shard.index] {
        status.shards.append(Shard(index: shard.index, state: state, restarts: 0, progress: shard))
      } else {
        // Nothing from Slurm: the records say whether the shard's work is done, and for a
        // local run whether the `caravan` process that runs it is still alive.
        let state: String
        if shard.complete {
          state = "COMPLETED"
        } else if submission?.scheduler == .local {
          state = submission.map { Self.localRunIsAlive(jobID: $0.jobID) } == true ? "RUNNING" : "INCOMPLETE"
        } else {
          state = Self.gone
        }
        status.shards.append(Shard(index: shard.index, state: state, restarts: 0, progress: shard))
      }
    }
    return status
  }

  /// Dynamic distribution: one progress row a task, summing the chunks whose latest claim is
  /// the task's (a chunk's latest holder has its records, or is sending them).
  static func taskRows(_ run: RunDirectory, chunks: RunProgress, tasks: Int) throws -> [RunProgress.Shard] {
    let listing = try ChunkClaims.list(run.layout.claimsDir)
    var rows = (0..<max(0, tasks)).map { RunProgress.Shard(index: $0, items: 0, done: 0, errors: 0) }
    for chunk in chunks.shards {
      guard let generation = listing.generations[chunk.index],
        let holder = ChunkClaims.heartbeat(at: run.layout.claimsDir + "/" + ChunkClaims.claimName(chunk.index, generation: generation)),
        rows.indices.contains(holder.task)
      else { continue }
      rows[holder.task].add(chunk)
    }
    return rows
  }

  /// A local run's job id is `local-<pid of caravan submit or resume>`: alive while that process
  /// is, and still a `caravan` (a pid reused by another program is not the run).
  static func localRunIsAlive(jobID: String) -> Bool {
    guard jobID.hasPrefix("local-"), let pid = Int32(jobID.dropFirst(6)), pid > 0 else { return false }
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return true }
    let program = command.split(separator: "\0").first.map { URL(fileURLWithPath: String($0)).lastPathComponent } ?? ""
    return program == "caravan"
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
