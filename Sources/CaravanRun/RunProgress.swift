import CaravanStorage
import CaravanCore
import CaravanProcess
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
    /// Sums of eval_count and eval_duration (ns), so rates can be combined across shards.
    public var evalTokens = 0
    public var evalNanoseconds = 0

    public var complete: Bool { done >= items }

    public init(index: Int, items: Int, done: Int, errors: Int, lastRecordAt: String? = nil, evalTokens: Int = 0, evalNanoseconds: Int = 0) {
      self.index = index
      self.items = items
      self.done = done
      self.errors = errors
      self.lastRecordAt = lastRecordAt
      self.evalTokens = evalTokens
      self.evalNanoseconds = evalNanoseconds
    }

    /// Adds another shard's counts (a task's row sums the chunks it claimed); the rates and
    /// the ETA are the sum's.
    mutating func add(_ other: Shard) {
      items += other.items
      done += other.done
      errors += other.errors
      evalTokens = evalTokens.addingSaturating(other.evalTokens)
      evalNanoseconds = evalNanoseconds.addingSaturating(other.evalNanoseconds)
      if let last = other.lastRecordAt, last > (lastRecordAt ?? "") { lastRecordAt = last }
      decodeTokensPerSecond = evalNanoseconds > 0 ? (Double(evalTokens) / Double(evalNanoseconds) * 1e9 * 10).rounded() / 10 : nil
      itemsPerSecond = [itemsPerSecond, other.itemsPerSecond].compactMap { $0 }.reduce(nil) { ($0 ?? 0) + $1 }
      etaSeconds = nil
    }

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
  /// Generated tokens per second of decode time, over every shard.
  public var decodeTokensPerSecond: Double? {
    let tokens = shards.reduce(0) { $0.addingSaturating($1.evalTokens) }
    let nanoseconds = shards.reduce(0) { $0.addingSaturating($1.evalNanoseconds) }
    return nanoseconds > 0 ? Double(tokens) / Double(nanoseconds) * 1e9 : nil
  }

  /// Reads every shard's results file (streamed; a torn last line is ignored).
  public static func read(_ run: RunDirectory) throws -> RunProgress {
    let manifest = try run.manifest()
    let decoder = JSONDecoder()
    var shards: [Shard] = []
    var firstSeq = 0
    let files = run.resultFileTable()
    for info in manifest.shards {
      var seen = [Bool](repeating: false, count: info.items)
      var latestError = [Bool](repeating: false, count: info.items)
      var tokens = 0, nanoseconds = 0
      var first: Date?, last: Date?, lastText: String?
      // A chunk taken over (dynamic distribution) has a results file per generation.
      let lines = (files[info.index] ?? []).lazy.flatMap { LineReader(path: $0) }
      for (_, line) in lines {
        guard let record = try? FastJSON.decode(ResultRecord.self, from: line, decoder: decoder) else { continue }
        // seq and the counts are read from a file: subtract and add without trapping.
        let (position, overflow) = record.seq.subtractingReportingOverflow(firstSeq)
        guard !overflow, position >= 0, position < info.items else { continue }
        // An error never replaces an ok record (as at collect).
        if !seen[position] || latestError[position] || record.status == .ok { latestError[position] = record.status == .error }
        seen[position] = true
        tokens = tokens.addingSaturating(record.timings.evalCount ?? 0)
        nanoseconds = nanoseconds.addingSaturating(record.timings.evalDuration ?? 0)
        if let seconds = ISOTimestamp.seconds(record.finishedAt) {
          let date = Date(timeIntervalSince1970: seconds)
          first = min(first ?? date, date)
          if date >= (last ?? .distantPast) { last = date; lastText = record.finishedAt }
        }
      }
      let done = seen.count { $0 }
      var shard = Shard(index: info.index, items: info.items, done: done, errors: latestError.count { $0 }, lastRecordAt: lastText, evalTokens: tokens, evalNanoseconds: nanoseconds)
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

extension RunProgress {
  /// One line for a run in progress: `12/30 done (40%), 1 error, 45.3 tok/s decode, ETA 1m05s`.
  ///
  /// The rate for the ETA is this process's own: items recorded since `baseline` (the progress
  /// when it started watching, so a resume does not count the earlier run's records) over
  /// `elapsedSeconds`.
  public func line(since baseline: RunProgress?, elapsedSeconds: Double) -> String {
    let percent = total > 0 ? done * 100 / total : 100
    var parts = ["\(grouped(done))/\(grouped(total)) done (\(percent)%)"]
    parts.append(errors == 1 ? "1 error" : "\(grouped(errors)) errors")
    if let rate = decodeTokensPerSecond, rate.isFinite { parts.append(String(format: "%.1f tok/s decode", rate)) }
    parts.append("ETA " + (eta(since: baseline, elapsedSeconds: elapsedSeconds).map(Self.duration) ?? "-"))
    return parts.joined(separator: ", ")
  }

  /// Seconds until every item has a record, at the rate since `baseline`; nil before any item.
  public func eta(since baseline: RunProgress?, elapsedSeconds: Double) -> Double? {
    if done >= total { return 0 }
    let gained = done - (baseline?.done ?? 0)
    guard gained > 0, elapsedSeconds > 0 else { return nil }
    return Double(total - done) / (Double(gained) / elapsedSeconds)
  }

  /// `45s`, `3m05s`, `2h07m`, `3d04h`.
  public static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds < 1e9 else { return "-" }
    let whole = Int(max(0, seconds.rounded()))
    let (minutes, hours, days) = (whole / 60, whole / 3600, whole / 86_400)
    if whole < 60 { return "\(whole)s" }
    if hours == 0 { return "\(minutes)m" + pad(whole % 60) + "s" }
    if days == 0 { return "\(hours)h" + pad(minutes % 60) + "m" }
    return "\(days)d" + pad(hours % 24) + "h"
  }

  static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

/// Runs a local run's shards while reading its progress: once at the start (the baseline) and
/// then every `interval`, each reading handed to `report`.
enum ProgressWatch {
  static func around<T: Sendable>(
    _ run: RunDirectory, every interval: Duration?, report: @escaping @Sendable (RunProgress) -> Void,
    _ body: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    guard let interval else { return try await body() }
    return try await withThrowingTaskGroup(of: T?.self) { group in
      group.addTask { try await body() }
      group.addTask {
        while !Task.isCancelled {
          // Reading the records blocks in the kernel: on a thread of its own, not the pool's.
          if let progress = await onThread({ try? RunProgress.read(run) }) { report(progress) }
          try await Task.sleep(for: interval)
        }
        return nil
      }
      // The watcher yields no value, so the first value is the body's; then the watcher stops.
      for try await next in group {
        guard let value = next else { continue }
        group.cancelAll()
        return value
      }
      throw CancellationError()
    }
  }
}
