import CaravanCore
import CaravanRender
import CaravanStorage
import Foundation

/// `caravan diff`: compares two runs' answers and writes `diff.md` and `diff.csv`.
public enum RunDiff {
  /// What was compared and where the files went.
  public struct Outcome: Sendable {
    public var comparison: RunComparison
    public var markdownPath: String
    public var csvPath: String
  }

  /// Reads the latest record of each key of both runs (from their shard files, so an
  /// uncollected or running run can be compared too), compares them, and writes the reports
  /// into `outputDirectory`.
  public static func diff(_ a: RunDirectory, _ b: RunDirectory, outputDirectory: String, changeLimit: Int = 20) throws -> Outcome {
    let comparison = RunComparison.compare(try latestRecords(a), try latestRecords(b), changeLimit: changeLimit)
    do {
      try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
    } catch {
      throw WriteFailure(path: outputDirectory, error: error)
    }
    let markdownPath = outputDirectory + "/diff.md", csvPath = outputDirectory + "/diff.csv"
    try Data(DiffReport.markdown(comparison, runs: .init(a: a.path, b: b.path)).utf8).writeAtomically(to: markdownPath)
    try Data(DiffReport.csv(comparison).utf8).writeAtomically(to: csvPath)
    return Outcome(comparison: comparison, markdownPath: markdownPath, csvPath: csvPath)
  }

  /// Each key's latest record, in plan order.
  static func latestRecords(_ run: RunDirectory) throws -> [ResultRecord] {
    var latest: [WorkKey: ResultRecord] = [:]
    for shard in try run.manifest().shards {
      for record in try run.results(shard.index) { latest[record.key] = record }
    }
    return latest.values.sorted { $0.seq < $1.seq }
  }
}
