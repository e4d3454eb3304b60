/// Where one Slurm job stands, per array task, as slurmctld reports it.
public struct SlurmJobState: Sendable, Equatable {
  /// One record slurmctld keeps: an array task, or the not-yet-started rest of the array.
  public struct Task: Sendable, Equatable {
    /// The record's own job id (an array task has its own).
    public var jobID: Int
    /// The job id of the whole array; nil for a job that is not an array.
    public var arrayJobID: Int?
    /// The array index; nil for the record that stands for tasks that have not started.
    public var arrayTaskID: Int?
    /// For that record: the indices it stands for (`1-2`).
    public var pendingArrayTasks: String?
    /// PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    public var state: String
    /// Why it waits or why it ended (`Priority`, `Resources`, `JobHeldUser`, `None`, ...).
    public var reason: String
    /// The nodes it runs (or ran) on.
    public var nodes: String?
    /// The batch script's exit status, and the signal that ended it (0 if none).
    public var exitCode: Int
    public var exitSignal: Int
    /// How many times it was requeued.
    public var restarts: Int

    public init(jobID: Int, arrayJobID: Int?, arrayTaskID: Int?, pendingArrayTasks: String?, state: String, reason: String, nodes: String?, exitCode: Int, exitSignal: Int, restarts: Int) {
      self.jobID = jobID
      self.arrayJobID = arrayJobID
      self.arrayTaskID = arrayTaskID
      self.pendingArrayTasks = pendingArrayTasks
      self.state = state
      self.reason = reason
      self.nodes = nodes
      self.exitCode = exitCode
      self.exitSignal = exitSignal
      self.restarts = restarts
    }
  }

  /// The id that was asked about.
  public var jobID: String
  public var tasks: [Task]

  public init(jobID: String, tasks: [Task]) {
    self.jobID = jobID
    self.tasks = tasks
  }
}
