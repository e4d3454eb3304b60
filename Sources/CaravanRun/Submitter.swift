import CaravanCore
import CaravanProcess
import CaravanSlurm
import CaravanStorage
import Foundation

/// `caravan submit` from start to end: the `RunPreparer` stages, then the executor and
/// scheduler, `submission.json`, and for a local run the collect. A dry run stops before the
/// scheduler. What happens is reported through `onEvent`; the caller prints.
public struct Submitter: Sendable {
  public var preparer: RunPreparer

  public init(preparer: RunPreparer) { self.preparer = preparer }

  /// What the user asked for on the command line (each overrides the spec).
  public struct Options: Sendable {
    public var runDir: String?
    public var dryRun = false
    public var executor: JobSpec.Executor?
    public var scheduler: SchedulerKind?
    /// How often a local run reports `.progress`; nil: never.
    public var progressInterval: Duration?
    /// Submit a calibration run of the spec's first N prompts instead (`caravan estimate`).
    public var calibration: Int?

    public init(
      runDir: String? = nil, dryRun: Bool = false, executor: JobSpec.Executor? = nil, scheduler: SchedulerKind? = nil, progressInterval: Duration? = nil,
      calibration: Int? = nil
    ) {
      self.calibration = calibration
      self.runDir = runDir
      self.dryRun = dryRun
      self.executor = executor
      self.scheduler = scheduler
      self.progressInterval = progressInterval
    }
  }

  /// Steps a user may want to see as they happen.
  public enum Event: Sendable {
    /// Something worth knowing (shards reduced, Slurm not found, models missing on a dry run).
    case note(String)
    /// The run directory is written; `executor` is nil on a dry run.
    case prepared(RunPreparer.Prepared, executor: JobSpec.Executor?)
    /// A local run's progress: once when its shards start, then every `progressInterval`.
    case progress(RunProgress)
  }

  /// How it ended.
  public struct Outcome: Sendable {
    public var prepared: RunPreparer.Prepared
    /// Nil on a dry run.
    public var submission: Submission?
    /// A local run is collected once its shards have finished.
    public var collected: Collector.Report?
    /// Why a local run's shards did not all finish (they were collected all the same).
    public var failure: String?
  }

  public func submit(specPath: String, options: Options, onEvent: @escaping @Sendable (Event) -> Void = { _ in }) async throws -> Outcome {
    let prepared = try preparer.prepare(specPath: specPath, runDir: options.runDir, calibration: options.calibration)
    prepared.notes.forEach { onEvent(.note($0)) }
    if options.calibration == nil, let warning = Estimator.timeWarning(spec: prepared.spec, plan: prepared.plan, specPath: specPath) {
      onEvent(.note("warning: " + warning))
    }
    guard !options.dryRun else {
      onEvent(.prepared(prepared, executor: nil))
      return Outcome(prepared: prepared)
    }
    let (executor, why) = await Self.chooseExecutor(options, spec: prepared.spec)
    if let why { onEvent(.note(why)) }
    onEvent(.prepared(prepared, executor: executor))
    let run = prepared.run
    switch executor {
    case .local:
      let local = LocalExecutor()
      let submission = Submission(jobID: local.jobID, scheduler: .local, submittedAt: Date().ISO8601Format())
      try run.record(submission)
      var failure: String?
      let job = prepared.job, script = run.layout.script
      do {
        _ = try await ProgressWatch.around(run, every: options.progressInterval, report: { onEvent(.progress($0)) }) {
          try await local.submit(job, scriptPath: script)
        }
      } catch {
        failure = "\(error)"  // what the shards did finish is collected all the same
      }
      return Outcome(prepared: prepared, submission: submission, collected: try Collector.collect(localRun: run, failure: failure), failure: failure)
    case .slurm:
      let jobID: String
      let scheduler: any Scheduler
      do {
        let (chosen, note) = try Schedulers.choose(options.scheduler)
        if let note { onEvent(.note(note)) }
        scheduler = chosen
        try await scheduler.checkArraySize(prepared.job)
        jobID = try await scheduler.submit(prepared.job, scriptPath: run.layout.script)
      } catch {
        // Refused (or no scheduler): nothing runs, so no run directory is left that no command
        // could resume; submitting the spec again makes a new one.
        try? FileManager.default.removeItem(atPath: run.path)
        throw SubmitRefused(reason: "\(error)", runDir: run.path)
      }
      let submission = Submission(jobID: jobID, scheduler: scheduler.kind, submittedAt: Date().ISO8601Format())
      try run.record(submission)
      return Outcome(prepared: prepared, submission: submission)
    }
  }

  /// The flag, then the spec, then what this machine offers; with the reason when it was a guess.
  static func chooseExecutor(_ options: Options, spec: JobSpec) async -> (JobSpec.Executor, String?) {
    if let executor = options.executor { return (executor, nil) }
    if options.scheduler != nil { return (.slurm, nil) }
    if let chosen = spec.executor { return (chosen, nil) }
    if await SlurmCLI.isAvailable() { return (.slurm, nil) }
    return (.local, "no Slurm cluster answers here (sinfo failed), so the shards run as local processes")
  }
}

/// The scheduler refused the job (or none could be reached): nothing was submitted, and the run
/// directory made for it is gone again.
public struct SubmitRefused: Error, CustomStringConvertible {
  public var reason: String
  public var runDir: String
  public var description: String { "\(reason); nothing was submitted, and \(runDir) was removed" }
}
