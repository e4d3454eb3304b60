import ArgumentParser
import CaravanWorker

extension Caravan {
  /// `caravan collect`: merge shard results into one file, in plan order.
  struct Collect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Merge a run's shard results into results.jsonl and summary.json.",
      discussion: "Exits 2 and lists the missing keys when the run is not complete."
    )

    @Argument(help: "The run directory.")
    var runDir: String

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() async throws {
      let report: Collector.Report
      do {
        report = try Collector.collect(RunDirectory(path: runDir))
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
        for repeated in report.repeated.prefix(20) {
          print("warning: \(repeated.key) has \(repeated.records) records; the last one was kept")
        }
        print("Wrote \(run.layout.mergedResults) and \(run.layout.summary).")
      }
      if !report.complete {
        var message = "\(report.missing.count) of \(report.total) work items have no record yet:"
        for key in report.missing.prefix(20) { message += "\n  \(key)" }
        if report.missing.count > 20 { message += "\n  ... and \(report.missing.count - 20) more (see summary.json)" }
        message += "\nResubmit or wait for the job, then collect again."
        _ = fail(message)
        throw ExitCode(2)
      }
    }
  }
}
