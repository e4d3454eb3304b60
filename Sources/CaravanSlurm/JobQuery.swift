import CaravanCore
import CaravanProcess
import Foundation

/// Asks Slurm where a job stands, and cancels it: through libslurm or through its commands.
public protocol JobQuerying: Sendable {
  func jobState(jobID: String) async throws -> SlurmJobState
  func cancel(jobID: String) async throws
}

#if LibSlurm
  extension LibSlurm: JobQuerying {}
#endif

extension SlurmCLI: JobQuerying {
  /// `scontrol show job -o ID`: one line per array task record.
  public func jobState(jobID: String) async throws -> SlurmJobState {
    let output = try await ProcessRunner().run("scontrol", ["show", "job", "-o", jobID])
    if output.status != 0 {
      if output.stderr.contains("Invalid job id") {
        throw SlurmGone(jobID: jobID)
      }
      throw SchedulerError("scontrol show job \(jobID) failed: \(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    let tasks = output.stdout.split(separator: "\n").compactMap { Self.task(fromLine: String($0)) }
    return SlurmJobState(jobID: jobID, tasks: tasks)
  }

  /// Parses one `scontrol show job -o` line (`Key=Value` pairs separated by spaces).
  static func task(fromLine line: String) -> SlurmJobState.Task? {
    var fields: [String: String] = [:]
    for pair in line.split(separator: " ") {
      guard let equals = pair.firstIndex(of: "=") else { continue }
      let key = String(pair[..<equals])
      if fields[key] == nil { fields[key] = String(pair[pair.index(after: equals)...]) }
    }
    guard let id = fields["JobId"].flatMap({ Int($0) }) else { return nil }
    let arrayTask = fields["ArrayTaskId"]
    let exit = (fields["ExitCode"] ?? "0:0").split(separator: ":").map { Int($0) ?? 0 }
    let nodes = fields["NodeList"].flatMap { $0 == "(null)" ? nil : $0 }
    return SlurmJobState.Task(
      jobID: id, arrayJobID: fields["ArrayJobId"].flatMap { Int($0) },
      arrayTaskID: arrayTask.flatMap { Int($0) }, pendingArrayTasks: arrayTask.flatMap { Int($0) == nil ? $0 : nil },
      state: fields["JobState"] ?? "UNKNOWN", reason: fields["Reason"] ?? "None", nodes: nodes,
      exitCode: exit.first ?? 0, exitSignal: exit.count > 1 ? exit[1] : 0, restarts: fields["Restarts"].flatMap { Int($0) } ?? 0)
  }
}

/// slurmctld no longer knows the job (it ended more than MinJobAge ago).
public struct SlurmGone: Error, CustomStringConvertible {
  public var jobID: String
  public var description: String { "job \(jobID) is no longer known to slurmctld (it ended more than MinJobAge ago)" }
}

/// The finished-job record Slurm keeps after slurmctld forgets a job: `sacct` where accounting
/// runs, else the jobcomp/filetxt log.
public enum FinishedJobs {
  /// States of a job's array tasks (task index -> state), or empty when nothing is recorded.
  public static func states(jobID: String) async -> [Int: String] {
    if let output = try? await ProcessRunner().run("sacct", ["-n", "-P", "-X", "-j", jobID, "-o", "JobID,State"]), output.status == 0 {
      var states: [Int: String] = [:]
      for line in output.stdout.split(separator: "\n") {
        let parts = line.split(separator: "|")
        guard parts.count == 2, let underscore = parts[0].firstIndex(of: "_"), let task = Int(parts[0][parts[0].index(after: underscore)...]) else { continue }
        states[task] = parts[1].split(separator: " ").first.map(String.init)
      }
      if !states.isEmpty { return states }
    }
    // jobcomp/filetxt: one line per finished job, `ArrayJobId=N ArrayTaskId=I JobState=S`.
    guard let config = try? await ProcessRunner().run("scontrol", ["show", "config"]), config.status == 0,
      let line = config.stdout.split(separator: "\n").first(where: { $0.hasPrefix("JobCompLoc") }),
      let path = line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces),
      let text = try? String(contentsOfFile: path, encoding: .utf8)
    else { return [:] }
    var states: [Int: String] = [:]
    for record in text.split(separator: "\n") where record.contains("ArrayJobId=\(jobID) ") {
      guard let task = SlurmCLI.task(fromLine: String(record)) else { continue }
      if let index = task.arrayTaskID, task.state != "PENDING" { states[index] = task.state }
    }
    return states
  }
}

extension Schedulers {
  /// How to ask about a job submitted through `recorded` (`libslurm` or `sbatch`): libslurm
  /// when it is built in and slurm.conf is readable, else Slurm's commands.
  public static func query(recorded: Submission.Scheduler?) -> any JobQuerying {
    if let (scheduler, _) = try? choose(recorded == .sbatch ? .sbatch : nil), let query = scheduler as? any JobQuerying {
      return query
    }
    return SlurmCLI()
  }
}
