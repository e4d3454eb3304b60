import CaravanCore
import Foundation

/// `caravan collect`: merges shard results into `results.jsonl` (plan order) and `summary.json`.
public enum Collector {
  /// What the merge found.
  public struct Report: Sendable, Codable, Equatable {
    public var runID: String
    public var name: String
    public var total: Int
    public var recorded: Int
    public var ok: Int
    public var errors: Int
    public var missing: [WorkKey]
    /// Keys with more than one record; the last one was kept.
    public var repeated: [RepeatedKey]
    public var variants: [VariantSummary]
    public var complete: Bool { missing.isEmpty }

    public struct RepeatedKey: Sendable, Codable, Equatable {
      public var key: WorkKey
      public var records: Int
    }

    enum CodingKeys: String, CodingKey {
      case name, total, recorded, ok, errors, missing, repeated, variants
      case runID = "run_id"
    }
  }

  /// Per-variant counts and decode speed.
  public struct VariantSummary: Sendable, Codable, Equatable {
    public var variant: String
    public var ok: Int
    public var errors: Int
    public var evalTokens: Int
    /// Generated tokens per second of decode time, from Ollama's eval_count / eval_duration.
    public var decodeTokensPerSecond: Double?

    enum CodingKeys: String, CodingKey {
      case variant, ok, errors
      case evalTokens = "eval_tokens"
      case decodeTokensPerSecond = "decode_tokens_per_s"
    }
  }

  public static func collect(_ run: RunDirectory) throws -> Report {
    let manifest = try run.manifest()
    var expected: [WorkKey] = []
    expected.reserveCapacity(manifest.totalItems)
    for shard in manifest.shards {
      expected += try run.shardItems(shard.index).map(\.key)
    }
    var merger = ResultMerger(expected: expected)
    for shard in manifest.shards {
      for record in try run.results(shard.index) { merger.add(record) }
    }
    let records = merger.records
    try JSONLines.write(records, to: run.layout.mergedResults)

    var byVariant: [String: (ok: Int, errors: Int, tokens: Int, ns: Int)] = [:]
    for record in records {
      var entry = byVariant[record.variant] ?? (0, 0, 0, 0)
      if record.status == .ok { entry.ok += 1 } else { entry.errors += 1 }
      entry.tokens += record.evalCount ?? 0
      entry.ns += record.evalDuration ?? 0
      byVariant[record.variant] = entry
    }
    let variants = manifest.variants.map { variant -> VariantSummary in
      let entry = byVariant[variant.name] ?? (0, 0, 0, 0)
      let rate = entry.ns > 0 ? Double(entry.tokens) / Double(entry.ns) * 1e9 : nil
      return VariantSummary(variant: variant.name, ok: entry.ok, errors: entry.errors, evalTokens: entry.tokens, decodeTokensPerSecond: rate.map { ($0 * 10).rounded() / 10 })
    }
    let report = Report(
      runID: manifest.runID, name: manifest.name, total: expected.count, recorded: records.count,
      ok: records.count { $0.status == .ok }, errors: records.count { $0.status == .error },
      missing: merger.missing, repeated: merger.repeated.map { Report.RepeatedKey(key: $0.key, records: $0.count) },
      variants: variants)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(report).write(to: URL(fileURLWithPath: run.layout.summary), options: .atomic)
    return report
  }
}
