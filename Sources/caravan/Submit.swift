import ArgumentParser
import CaravanCore
import CaravanRun
import CaravanSlurm
import CaravanStorage
import Foundation

extension Caravan {
  /// `caravan submit`: plan, write the run directory, and hand the job to a scheduler.
  struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Plan a job spec into a run directory and submit it.",
      discussion: """
        Expands prompts × variants × repeats, splits the work into shards (Slurm array tasks), \
        writes the run directory, and submits job.sbatch. Nothing is written or submitted when the \
        spec or the prompt file has a problem. With --add-shards N, the argument is a run directory \
        that is going: N more array tasks join it and claim its chunks (dynamic distribution).
        """
    )

    @Argument(help: "The job spec (YAML or JSON); with --add-shards, the run directory.")
    var spec: String

    @Option(help: ArgumentHelp("Add N array tasks to the running run directory given instead of a spec (dynamic distribution).", valueName: "N"))
    var addShards: Int?

    @Flag(help: "Write the run directory but submit nothing.")
    var dryRun = false

    @Option(help: "Where to run: slurm or local (overrides the spec's executor).")
    var executor: JobSpec.Executor?

    @Option(name: .customLong("scheduler"), help: "How to reach Slurm: libslurm or sbatch (default: libslurm when this build has it and slurm.conf is readable, else sbatch).")
    var schedulerKind: SchedulerKind?

    @Option(help: "Run directory to create (default: <output>/<name>-<time>-<id>).")
    var runDir: String?

    @Flag(help: "Print {\"run_dir\": ..., \"job_id\": ...} instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Seconds between progress lines of a local run (default: 1 on a terminal, where the bar is redrawn, else 5).", valueName: "seconds"))
    var progressInterval: Double?

    func validate() throws {
      try validateProgressInterval(progressInterval)
      if schedulerKind != nil, executor == .local { throw ValidationError("--scheduler chooses how to reach Slurm; it cannot be combined with --executor local") }
      if let addShards, addShards < 1 { throw ValidationError("--add-shards takes a number of tasks of at least 1, got \(addShards)") }
      if addShards != nil, dryRun || executor != nil || runDir != nil {
        throw ValidationError("--add-shards adds tasks to a run that is going; it cannot be combined with --dry-run, --executor or --run-dir")
      }
    }

    func run() async throws {
      if let addShards {
        let run = RunDirectory(path: spec)
        let added: Submission.Added
        do { added = try await TaskAdder(caravanPath: Executables.caravan).add(addShards, to: run) } catch { throw fail("\(error)") }
        if json {
          printJSON(["run_dir": run.path, "job_id": added.jobID, "tasks": Array(added.first..<added.first + added.count)])
        } else {
          print("Submitted job \(added.jobID): \(added.count) more task(s) (array indices \(added.first)-\(added.first + added.count - 1)) for \(run.path).")
        }
        return
      }
      let submitter = Submitter(preparer: RunPreparer(caravanPath: Executables.caravan, simulatorPath: Executables.simulator, version: Caravan.version))
      let json = self.json
      let display = RunProgressDisplay(json: json)
      let options = Submitter.Options(runDir: runDir, dryRun: dryRun, executor: executor, scheduler: schedulerKind, progressInterval: display.interval(progressInterval))
      let outcome: Submitter.Outcome
      do {
        outcome = try await submitter.submit(specPath: spec, options: options) { event in
          switch event {
          case .note(let note): FileHandle.standardError.write(Data("note: \(note)\n".utf8))
          case .prepared(let prepared, let executor):
            guard !json else { return }
            print("Run directory: \(prepared.run.path)")
            if executor == .local { print("Running \(Self.summary(prepared)) locally...") }
          case .progress(let progress): display.show(progress)
          }
        }
      } catch let error as InputError {
        display.finish()
        throw failInput(error)
      } catch {
        display.finish()
        throw fail("\(error)")
      }
      display.finish()
      let prepared = outcome.prepared
      let layout = prepared.run.layout
      var output: [String: Any] = ["run_dir": prepared.run.path, "job_id": outcome.submission?.jobID ?? NSNull()]
      if let report = outcome.collected {
        output["ok"] = report.ok
        output["errors"] = report.errors
        output["missing"] = report.missingCount
        if !json {
          print("Finished: \(report.ok) ok, \(report.errors) errors, \(report.missingCount) missing.")
          print("Results:  \(layout.mergedResults)")
        } else {
          printJSON(output)
        }
        if let failure = outcome.failure { _ = fail(failure) }
        // 0 every item ok, 2 incomplete, 3 complete with error records.
        let status = report.exitStatus()
        if status != 0 { throw ExitCode(status) }
        return
      } else if let submission = outcome.submission {
        if !json {
          print("Submitted job \(submission.jobID) with \(submission.scheduler.rawValue): \(Self.summary(prepared)).")
          print("Watch it with `squeue -j \(submission.jobID)`; merge results with `caravan collect \(prepared.run.path)`.")
        }
      } else {
        output["items"] = prepared.plan.items.count
        if !json {
          print("Planned \(Self.summary(prepared)); dry run, nothing submitted.")
          print("Variants: " + prepared.plan.variants.map(\.name).joined(separator: ", "))
          print("Script:   \(layout.script)")
          print("Server:   \(layout.serverScript)")
        }
      }
      if json { printJSON(output) }
    }

    /// Prompt lines may name their own variants, so items need not be prompts × variants × repeats.
    static func summary(_ prepared: RunPreparer.Prepared) -> String {
      let prompts = prepared.plan.promptCount
      let plan = prepared.plan
      let where_ = plan.tasks == plan.shards.count ? "in \(plan.shards.count) shards" : "in \(plan.shards.count) chunks for \(plan.tasks) tasks"
      return "\(plan.items.count) work items (\(prompts) prompts, \(plan.variants.count) variants, \(prepared.spec.repeats) repeats) \(where_)"
    }
  }
}

extension JobSpec.Executor: ExpressibleByArgument {}
extension SchedulerKind: ExpressibleByArgument {}
