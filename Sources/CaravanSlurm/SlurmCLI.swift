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
    // The script's #SBATCH lines name every task; a resume or added tasks run some (others).
    let overrides: [String]
    if job.slurm.layout == .nodes {
      overrides = ["--nodes=\(job.shardCount)", "--ntasks=\(job.shardCount)"]
    } else {
      overrides = job.shards == nil ? [] : ["--array=\(job.arrayIndices)"]
    }
    let output = try await runner.run("sbatch", ["--parsable"] + overrides + [scriptPath])
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

  /// MaxArraySize from `scontrol show config`.
  public func maxArraySize() async -> Int? {
    guard let output = try? await runner.run("scontrol", ["show", "config"]), output.status == 0 else { return nil }
    return Self.maxArraySize(inConfig: output.stdout)
  }

  /// The value of the `MaxArraySize = N` line of `scontrol show config`.
  static func maxArraySize(inConfig text: String) -> Int? {
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if parts.count == 2, parts[0] == "MaxArraySize" { return Int(parts[1]) }
    }
    return nil
  }

  /// True when slurm's client tools are installed and a controller answers.
  public static func isAvailable() async -> Bool {
    guard ProcessRunner.onPath("sbatch") else { return false }
    let output = try? await ProcessRunner().run("sinfo", ["-h", "-o", "%P"])
    return output?.status == 0
  }
}
