/// `submission.json`: which scheduler took a run, under which job id, and when. Written before
/// the first shard starts, so `status` and `cancel` work on a run that is still going.
public struct Submission: Codable, Sendable, Equatable {
  /// What ran the job: Slurm through libslurm or through sbatch, or local processes.
  public enum Scheduler: String, Codable, Sendable, CaseIterable {
    case libslurm, sbatch, local
  }

  public var jobID: String
  public var scheduler: Scheduler
  /// ISO 8601, UTC; nil in a submission.json written by hand.
  public var submittedAt: String?

  public init(jobID: String, scheduler: Scheduler, submittedAt: String?) {
    self.jobID = jobID
    self.scheduler = scheduler
    self.submittedAt = submittedAt
  }

  enum CodingKeys: String, CodingKey {
    case scheduler
    case jobID = "job_id"
    case submittedAt = "submitted_at"
  }
}
