import CaravanRun
import CaravanStorage
import ArgumentParser
import Foundation

extension Collector.Format: ExpressibleByArgument {}

extension Caravan {
  /// `caravan collect`: merge shard results into one file, in plan order.
  struct Collect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Merge a run's shard results into results.jsonl, with summaries and reports.",
      discussion: """
        Writes results.jsonl (plan order, one line per key, the last record winning), errors.jsonl, \
        summary.json, timing.csv (per node and GPU, with GPU telemetry when the run has it), \
        sweep.csv (per variant), report.md and report.html (self-contained, with charts). Exits 2 \
        and lists the missing keys when the run is not complete, unless --partial is given; exits 3 \
        when every item has a record but some are errors.
        """
    )

    @Argument(help: "The run directory.")
    var runDir: String

    @Flag(help: "Do not exit 2 when some work items have no record yet.")
    var partial = false

    @Option(help: "Line format of results.jsonl: caravan or openai (OpenAI Batch API output lines).")
    var format: Collector.Format = .caravan

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() async throws {
      let report: Collector.Report
      do {
        report = try Collector.collect(RunDirectory(path: runDir), format: format)
      } catch {
        throw fail("\(error)")
      }
      let run = RunDirectory(path: runDir)
      if json {
        print((try? String(contentsOfFile: run.layout.summary, encoding: .utf8)) ?? "{}")
      } else {
        print("\(report.name) (\(report.runID)): \(report.recorded)/\(report.total) recorded, \(report.ok) ok, \(report.errors) errors.")
        for variant in report.variants {
          let rate = variant.decodeTokensPerSecond.map { ", \($0) tokens/s decode" } ?? ""
          print("  \(variant.variant): \(variant.ok) ok, \(variant.errors) errors\(rate)")
        }
        if report.claimOperations != nil, report.duplicatesSent > 0 {
          // Dynamic distribution: expected when a chunk was taken over from a task that was late.
          print("note: \(report.duplicatesSent) requests were sent twice (chunks taken over from tasks whose heartbeats stopped); one record of each key was kept")
        } else {
          for repeated in report.repeated.prefix(20) {
            print("warning: \(repeated.key) has \(repeated.records) records; the newest ok one was kept")
          }
        }
        if let operations = report.claimOperations, let perItem = report.claimOperationsPerItem {
          print("Claims: \(operations) file-system operations, \(perItem) per item.")
        }
        if report.unexpected > 0 { print("warning: \(report.unexpected) records do not belong to this run's plan and were left out") }
        print("Wrote \(run.layout.mergedResults), errors.jsonl, summary.json, timing.csv, sweep.csv, report.md and report.html.")
      }
      if !report.complete, partial {
        FileHandle.standardError.write(Data("note: \(report.missingCount) of \(report.total) work items have no record yet (collected as they are: --partial); `caravan resume \(runDir)` sends them\n".utf8))
      } else if !report.complete {
        var message = "\(report.missingCount) of \(report.total) work items have no record yet:"
        for key in report.missing.prefix(20) { message += "\n  \(key)" }
        if report.missingCount > 20 { message += "\n  ... and \(report.missingCount - 20) more (see summary.json)" }
        message += "\nResubmit or wait for the job, then collect again (or pass --partial)."
        _ = fail(message)
      }
      if report.errors > 0 { _ = fail("\(report.errors) work items ended with an error (see errors.jsonl).") }
      let status = report.exitStatus(partialIsFine: partial)
      if status != 0 { throw ExitCode(status) }
    }
  }
}
