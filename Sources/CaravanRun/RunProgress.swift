import CaravanStorage
import CaravanCore
import Foundation

/// How far a run has come, read from its own records (no scheduler needed).
public struct RunProgress: Sendable, Equatable, Encodable {
  /// One shard (Slurm array task).
  public struct Shard: Sendable, Equatable, Encodable {
    public var index: Int
    public var items: Int
    /// Items with a record.
    public var done: Int
    public var errors: Int
    /// Generated tokens per second of decode time (Ollama's eval_count / eval_duration).
    public var decodeTokensPerSecond: Double?
    /// Items per second between the shard's first and last record.
    public var itemsPerSecond: Double?
    /// Seconds left at that rate.
    public var etaSeconds: Double?
    public var lastRecordAt: String?

    public var complete: Bool { done >= items }

    enum CodingKeys: String, CodingKey {
      case index, items, done, errors, complete
      case decodeTokensPerSecond = "decode_tokens_per_s"
      case itemsPerSecond = "items_per_s"
      case etaSeconds = "eta_s"
      case lastRecordAt = "last_record_at"
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(index, forKey: .index)
      try c.encode(items, forKey: .items)
      try c.encode(done, forKey: .done)
      try c.encode(errors, forKey: .errors)
      try c.encode(complete, forKey: .complete)
      try c.encode(decodeTokensPerSecond, forKey: .decodeTokensPerSecond)
      try c.encode(itemsPerSecond, forKey: .itemsPerSecond)
      try c.encode(etaSeconds, forKey: .etaSeconds)
      try c.encode(lastRecordAt, forKey: .lastRecordAt)
    }
  }

  public var shards: [Shard]
  public var total: Int { shards.reduce(0) { $0 + $1.items } }
  public var done: Int { shards.reduce(0) { $0 + $1.done } }
  public var errors: Int { shards.reduce(0) { $0 + $1.errors } }

  /// Reads every shard's results file (streamed; a torn last line is ignored).
  public static func read(_ run: RunDirectory) throws -> RunProgress {
    let manifest = try run.manifest()
    let decoder = JSONDecoder()
    var shards: [Shard] = []
    var firstSeq = 0
    for info in manifest.shards {
      var seen = [Bool](repeating: false, count: info.items)
      var latestError = [Bool](repeating: false, count: info.items)
      var tokens = 0, nanoseconds = 0
      var first: Date?, last: Date?, lastText: String?
      for (_, line) in LineReader(path: run.layout.resultFile(info.index)) {
        guard let record = try? decoder.decode(ResultRecord.self, from: line) else { continue }
        // seq and the counts are read from a file: subtract and add without trapping.
        let (position, overflow) = record.seq.subtractingReportingOverflow(firstSeq)
        guard !overflow, position >= 0, position < info.items else { continue }
        seen[position] = true
        latestError[position] = record.status == .error
        tokens = tokens.addingSaturating(record.timings.evalCount ?? 0)
        nanoseconds = nanoseconds.addingSaturating(record.timings.evalDuration ?? 0)
        if let seconds = ISOTimestamp.seconds(record.finishedAt) {
          let date = Date(timeIntervalSince1970: seconds)
          first = min(first ?? date, date)
          if date >= (last ?? .distantPast) { last = date; lastText = record.finishedAt }
        }
      }
      let done = seen.count { $0 }
      var shard = Shard(index: info.index, items: info.items, done: done, errors: latestError.count { $0 }, lastRecordAt: lastText)
      if nanoseconds > 0 { shard.decodeTokensPerSecond = (Double(tokens) / Double(nanoseconds) * 1e9 * 10).rounded() / 10 }
      if let first, let last, last > first, done > 1 {
        let rate = Double(done - 1) / last.timeIntervalSince(first)
        shard.itemsPerSecond = (rate * 100).rounded() / 100
        shard.etaSeconds = done < info.items ? (Double(info.items - done) / rate).rounded() : 0
      }
      shards.append(shard)
      firstSeq += info.items
    }
    return RunProgress(shards: shards)
  }
}
