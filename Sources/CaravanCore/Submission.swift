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
  /// Array tasks added to the running run (`caravan submit --add-shards`), one entry a job.
  public var added: [Added]?

  /// A job of extra tasks: array indices `first ..< first + count` of the run.
  public struct Added: Codable, Sendable, Equatable {
    public var jobID: String
    public var first: Int
    public var count: Int
    public init(jobID: String, first: Int, count: Int) {
      self.jobID = jobID
      self.first = first
      self.count = count
    }
    enum CodingKeys: String, CodingKey {
      case first, count
      case jobID = "job_id"
    }
  }

  /// Every job of the run: the submitted one, then those of added tasks (whose array indices
  /// go on from the run's own).
  public var jobIDs: [String] { [jobID] + (added ?? []).map(\.jobID) }

  /// Tasks of the run: the job's, plus those added.
  public func taskCount(_ manifest: Manifest) -> Int { manifest.taskCount + (added ?? []).reduce(0) { $0 + max(0, $1.count) } }

  public init(jobID: String, scheduler: Scheduler, submittedAt: String?) {
    self.jobID = jobID
    self.scheduler = scheduler
    self.submittedAt = submittedAt
  }

  enum CodingKeys: String, CodingKey {
    case scheduler, added
    case jobID = "job_id"
    case submittedAt = "submitted_at"
  }
}
