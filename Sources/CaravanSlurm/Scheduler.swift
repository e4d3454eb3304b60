import CaravanCore

/// Something that runs a rendered batch job: Slurm, or local processes.
public protocol Scheduler: Sendable {
  /// Which scheduler this is, as `submission.json` records it.
  var kind: Submission.Scheduler { get }
  /// Submits the job whose script is at `scriptPath`; returns the scheduler's job id.
  func submit(_ job: BatchJob, scriptPath: String) async throws -> String
}

/// A scheduler refused or failed a request; the message says what to do.
public struct SchedulerError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
