import ArgumentParser
import CaravanRun
import CaravanStorage
import Foundation

extension Caravan {
  /// `caravan resume`: finish what a run left, with its own plan.
  struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Send a run's unfinished work items again, to the run's own executor and scheduler.",
      discussion: """
        Submits again the shards that have items without a record (with --retry-errors, also \
        items whose latest record is an error), using the run's own plan, job.sbatch and \
        server.sh: changes to the spec since then do not apply. A local run runs and is collected \
        (exit codes as for submit); a Slurm run is submitted and `collect` merges it later. At \
        collect, the newest record of each item wins.
        """
    )

    @Argument(help: "The run directory.")
    var runDir: String

    @Flag(help: "Also send again the items whose latest record is an error.")
    var retryErrors = false

    @Flag(help: "Print {\"run_dir\": ..., \"job_id\": ..., \"shards\": [...]} instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Seconds between progress lines of a local run (default: 1 on a terminal, where the bar is redrawn, else 5).", valueName: "seconds"))
    var progressInterval: Double?

    func validate() throws {
      try validateProgressInterval(progressInterval)
    }

    func run() async throws {
      let run = RunDirectory(path: runDir)
      let json = self.json
      let display = RunProgressDisplay(json: json)
      let outcome: Resumer.Outcome
      do {
        outcome = try await Resumer(caravanPath: Executables.caravan).resume(run, retryErrors: retryErrors, progressInterval: display.interval(progressInterval)) { event in
          switch event {
          case .note(let note): FileHandle.standardError.write(Data("note: \(note)\n".utf8))
          case .resuming(let pending, let scheduler):
            guard !json else { return }
            let errors = pending.errors > 0 ? (retryErrors ? ", \(pending.errors) with an error record" : "; \(pending.errors) error records stay (--retry-errors sends them again)") : ""
            print("Resuming \(pending.missing) items without a record\(errors) in shards \(pending.shards.map(String.init).joined(separator: ", ")) with \(scheduler.rawValue).")
          case .progress(let progress): display.show(progress)
          }
        }
      } catch {
        display.finish()
        throw fail("\(error)")
      }
      display.finish()
      var output: [String: Any] = ["run_dir": run.path, "job_id": outcome.submission?.jobID ?? NSNull(), "shards": outcome.pending.shards]
      if outcome.submission == nil, !json {
        print("Nothing to resume: every item has a record\(outcome.pending.errors > 0 && !retryErrors ? " (\(outcome.pending.errors) are errors; --retry-errors sends them again)" : "").")
      }
      if let report = outcome.collected {
        output["ok"] = report.ok
        output["errors"] = report.errors
        output["missing"] = report.missingCount
        if json { printJSON(output) } else { print("Finished: \(report.ok) ok, \(report.errors) errors, \(report.missingCount) missing.") }
        if let failure = outcome.failure { _ = fail(failure) }
        let status = report.exitStatus()
        if status != 0 { throw ExitCode(status) }
        return
      }
      if let submission = outcome.submission, !json {
        print("Submitted job \(submission.jobID) with \(submission.scheduler.rawValue); merge results with `caravan collect \(run.path)`.")
      }
      if json { printJSON(output) }
    }
  }
}
