import CaravanCore
import CaravanProcess
import Foundation

/// Slurm through its command-line tools: `sbatch --parsable`, `squeue`, `scancel`.
///
/// sbatch reads the script's own `#SBATCH` lines, so the script is the single source of truth here.
public struct SlurmCLI: Scheduler {
  public var kind: Submission.Scheduler { .sbatch }
  private let runner = ProcessRunner()

  public init() {}

  public func submit(_ job: BatchJob, scriptPath: String) async throws -> String {
    // The script's #SBATCH --array names every shard; a resume runs some of them.
    let array = job.shards == nil ? [] : ["--array=\(job.arrayIndices)"]
    let output = try await runner.run("sbatch", ["--parsable"] + array + [scriptPath])
    guard output.status == 0 else {
      throw SchedulerError("sbatch refused the job (exit \(output.status)): \(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    // --parsable prints "jobid" or "jobid;cluster".
    let id = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
      throw SchedulerError("sbatch printed no job id: \(output.stdout)")
    }
    return id
  }

  public func cancel(jobID: String) async throws {
    let output = try await runner.run("scancel", [jobID])
    guard output.status == 0 else { throw SchedulerError("scancel \(jobID) failed: \(output.stderr)") }
  }

  /// True when slurm's client tools are installed and a controller answers.
  public static func isAvailable() async -> Bool {
    guard ProcessRunner.onPath("sbatch") else { return false }
    let output = try? await ProcessRunner().run("sinfo", ["-h", "-o", "%P"])
    return output?.status == 0
  }
}
