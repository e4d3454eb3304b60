import CaravanRun
import ArgumentParser
import CaravanCore
import CaravanSlurm
import Foundation

extension Caravan {
  /// `caravan submit`: plan, write the run directory, and hand the job to a scheduler.
  struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Plan a job spec into a run directory and submit it.",
      discussion: """
        Expands prompts × variants × repeats, splits the work into shards (Slurm array tasks),
        writes the run directory, and submits job.sbatch. Nothing is written or submitted when the
        spec or the prompt file has a problem.
        """
    )

    @Argument(help: "The job spec (YAML or JSON).")
    var spec: String

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

    func validate() throws {
      if schedulerKind != nil, executor == .local { throw ValidationError("--scheduler chooses how to reach Slurm; it cannot be combined with --executor local") }
    }

    func run() async throws {
      let preparer = RunPreparer(caravanPath: Executables.caravan, simulatorPath: Executables.simulator, version: Caravan.version)
      let prepared: RunPreparer.Prepared
      do {
        prepared = try preparer.prepare(specPath: spec, runDir: runDir, checkModels: !dryRun)
      } catch let error as InputError {
        throw failInput(error)
      } catch {
        throw fail("\(error)")
      }
      let run = prepared.run
      for note in prepared.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
      // Prompt lines may name their own variants, so items need not be prompts × variants × repeats.
      let prompts = Set(prepared.plan.items.map(\.id)).count
      let summary = "\(prepared.plan.items.count) work items (\(prompts) prompts, \(prepared.plan.variants.count) variants, \(prepared.spec.repeats) repeats) in \(prepared.plan.shards.count) shards"

      if dryRun {
        if json { printJSON(["run_dir": run.path, "job_id": NSNull(), "items": prepared.plan.items.count]) } else {
          print("Run directory: \(run.path)")
          print("Planned \(summary); dry run, nothing submitted.")
          print("Variants: " + prepared.plan.variants.map(\.name).joined(separator: ", "))
          print("Script:   \(run.layout.script)")
          print("Server:   \(run.layout.serverScript)")
        }
        return
      }

      let choice = await chooseExecutor(prepared.spec)
      if let note = choice.note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
      let scheduler: any Scheduler
      if choice.executor == .local {
        scheduler = LocalExecutor()
      } else {
        do {
          let picked = try Schedulers.choose(schedulerKind)
          if let note = picked.note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
          scheduler = picked.scheduler
        } catch {
          throw fail("\(error)")
        }
      }
      if !json { print("Run directory: \(run.path)") }
      if choice.executor == .local, !json { print("Running \(summary) locally...") }
      let jobID: String
      do {
        jobID = try await scheduler.submit(prepared.job, scriptPath: run.layout.script)
      } catch {
        throw fail("\(error)")
      }
      let record = ["job_id": jobID, "scheduler": scheduler.name, "submitted_at": Date().ISO8601Format()]
      try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]).write(to: URL(fileURLWithPath: run.layout.submission))

      var output: [String: Any] = ["run_dir": run.path, "job_id": jobID]
      if choice.executor == .local {
        let report = try Collector.collect(run)
        output["ok"] = report.ok
        output["errors"] = report.errors
        output["missing"] = report.missingCount
        if !json {
          print("Finished: \(report.ok) ok, \(report.errors) errors, \(report.missingCount) missing.")
          print("Results:  \(run.layout.mergedResults)")
        }
      } else if !json {
        print("Submitted job \(jobID) with \(scheduler.name): \(summary).")
        print("Watch it with `squeue -j \(jobID)`; merge results with `caravan collect \(run.path)`.")
      }
      if json { printJSON(output) }
    }

    /// Flag, then spec, then what this machine offers.
    func chooseExecutor(_ spec: JobSpec) async -> (executor: JobSpec.Executor, note: String?) {
      if let executor { return (executor, nil) }
      if schedulerKind != nil { return (.slurm, nil) }
      if let chosen = spec.executor { return (chosen, nil) }
      if await SlurmCLI.isAvailable() { return (.slurm, nil) }
      return (.local, "no Slurm cluster answers here (sinfo failed), so the shards run as local processes")
    }
  }
}

extension JobSpec.Executor: ExpressibleByArgument {}
extension SchedulerKind: ExpressibleByArgument {}
