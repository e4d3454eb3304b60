import CaravanCore

/// Something that runs a rendered batch job: Slurm, or local processes.
public protocol Scheduler: Sendable {
  /// Which scheduler this is, as `submission.json` records it.
  var kind: Submission.Scheduler { get }
  /// Submits the job whose script is at `scriptPath`; returns the scheduler's job id.
  func submit(_ job: BatchJob, scriptPath: String) async throws -> String
  /// The cluster's MaxArraySize (array indices must be below it); nil when it cannot be read
  /// or there is no such limit (local processes).
  func maxArraySize() async -> Int?
}

extension Scheduler {
  public func maxArraySize() async -> Int? { nil }

  /// Refuses a job array whose highest index the cluster would reject, saying what to change.
  public func checkArraySize(_ job: BatchJob, added: Bool = false) async throws {
    guard let highest = job.highestArrayIndex, let limit = await maxArraySize(), highest >= limit else { return }
    let what = added ? "the added tasks would take array indices up to \(highest)" : "slurm.shards is \(highest + 1), so the array's indices go up to \(highest)"
    throw SchedulerError(
      "\(what), but this cluster's MaxArraySize is \(limit) (indices 0 to \(limit - 1)); "
        + "lower slurm.shards to \(limit) or fewer (with slurm.distribution: dynamic the tasks share the work whatever their number), or use slurm.layout: nodes")
  }
}

/// A scheduler refused or failed a request; the message says what to do.
public struct SchedulerError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
