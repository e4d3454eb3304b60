import CaravanProcess
import CaravanCore
import Foundation
import Logging

/// After a stop with work left, puts the job back in the queue when the time limit caused the
/// stop: Slurm's `--signal=B:TERM@grace` arrives `grace` seconds (or up to a minute more) before
/// the limit, so little time left means the limit; a cancel or a manual requeue leaves plenty.
/// The requeued job keeps its id and resumes from the records; SLURM_RESTART_COUNT bounds it.
public struct SelfRequeue: Sendable {
  public var spec: JobSpec.Slurm
  public var environment: [String: String]
  public var logger: Logger

  public init(spec: JobSpec.Slurm, environment: [String: String], logger: Logger) {
    self.spec = spec
    self.environment = environment
    self.logger = logger
  }

  /// The decision, apart from Slurm: requeue when the time left is within the warning window.
  public static func shouldRequeue(secondsLeft: Int?, grace: Int, restartCount: Int, maxRequeues: Int) -> Bool {
    maxRequeues > 0 && restartCount < maxRequeues && nearTimeLimit(secondsLeft: secondsLeft, grace: grace)
  }

  /// Slurm may send the signal up to 60 s before `grace`; allow for that and for the drain.
  static func nearTimeLimit(secondsLeft: Int?, grace: Int) -> Bool {
    secondsLeft.map { $0 <= grace.addingSaturating(90) } ?? false
  }

  /// `squeue -o %L` time left: `[days-]hours:minutes:seconds`, `minutes:seconds`, or a word
  /// (UNLIMITED, NOT_SET, INVALID) for which nil is returned.
  public static func parseTimeLeft(_ text: String) -> Int? {
    SlurmTime.seconds(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }


  public func requeueIfTimeLimit() async {
    guard let job = environment["SLURM_JOB_ID"] else { return }
    let restarts = environment["SLURM_RESTART_COUNT"].flatMap { Int($0) } ?? 0
    let runner = ProcessRunner()
    let left = try? await runner.run("squeue", ["-h", "-j", job, "-o", "%L"])
    let seconds = left.flatMap { $0.status == 0 ? Self.parseTimeLeft($0.stdout) : nil }
    guard Self.shouldRequeue(secondsLeft: seconds, grace: spec.grace, restartCount: restarts, maxRequeues: spec.maxRequeues) else {
      if spec.maxRequeues > 0, restarts >= spec.maxRequeues, Self.nearTimeLimit(secondsLeft: seconds, grace: spec.grace) {
        logger.notice("not requeueing job \(job): it has been requeued \(restarts) times (slurm.max_requeues is \(spec.maxRequeues))")
      }
      return
    }
    logger.notice("job \(job) stopped \(seconds ?? 0) s before its time limit with work left: requeueing it (restart \(restarts + 1) of at most \(spec.maxRequeues))")
    do {
      let result = try await runner.run("scontrol", ["requeue", job])
      if result.status != 0 { logger.warning("scontrol requeue \(job) failed: \(result.stderr)") }
    } catch {
      logger.warning("scontrol requeue \(job) could not run: \(error)")
    }
  }
}
