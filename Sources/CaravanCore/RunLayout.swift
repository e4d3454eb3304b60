/// The fixed layout of a run directory, shared by every command that reads or writes one.
public struct RunLayout: Sendable, Equatable {
  public var root: String

  public init(root: String) { self.root = root }

  public var specCopy: String { root + "/spec.yaml" }
  public var resolvedSpec: String { root + "/spec.resolved.json" }
  public var manifest: String { root + "/manifest.json" }
  public var script: String { root + "/job.sbatch" }
  /// Starts one inference server; the worker runs it once per server.
  public var serverScript: String { root + "/server.sh" }
  public var submission: String { root + "/submission.json" }
  public var shardsDir: String { root + "/shards" }
  /// Per-shard server and request timing (`ShardTimingEvent` lines).
  public var timingDir: String { root + "/timing" }
  /// Raw nvidia-smi samples, one folder per node.
  public var telemetryDir: String { root + "/telemetry" }
  public var resultsDir: String { root + "/results" }
  public var logsDir: String { root + "/logs" }
  public var mergedResults: String { root + "/results.jsonl" }
  /// Dynamic distribution: who holds which chunk, and which are done (`ChunkClaims`).
  public var claimsDir: String { root + "/claims" }
  public var summary: String { root + "/summary.json" }

  public func shardFile(_ index: Int) -> String { shardsDir + "/" + Self.shardName(index) }
  public func resultFile(_ index: Int) -> String { resultsDir + "/" + Self.shardName(index) }
  /// The records of one claim of a chunk: generation 0 writes `shard-NNNN.jsonl`, a chunk taken
  /// over from a holder that stopped writes `shard-NNNN.gG.jsonl`, so two holders never share a file.
  public func resultFile(_ index: Int, generation: Int) -> String {
    generation == 0 ? resultFile(index) : resultsDir + "/" + Self.shardName(index).replacingSuffix(".jsonl", with: ".g\(generation).jsonl")
  }

  /// The shard (chunk) a results file belongs to, and its generation: `shard-0007.g2.jsonl` is (7, 2).
  public static func resultFileShard(_ name: String) -> (shard: Int, generation: Int)? {
    guard name.hasPrefix("shard-"), name.hasSuffix(".jsonl") else { return nil }
    let parts = name.dropFirst("shard-".count).dropLast(".jsonl".count).split(separator: ".", omittingEmptySubsequences: false)
    guard let shard = Int(parts[0]), shard >= 0 else { return nil }
    if parts.count == 1 { return (shard, 0) }
    guard parts.count == 2, parts[1].hasPrefix("g"), let generation = Int(parts[1].dropFirst()), generation > 0 else { return nil }
    return (shard, generation)
  }
  public func timingFile(_ index: Int) -> String { timingDir + "/" + Self.shardName(index) }
  /// `telemetry/<node>/shard-NNNN.csv`: appended to across restarts, so a requeue keeps what came before.
  public func telemetryFile(node: String, shard: Int) -> String {
    telemetryDir + "/" + node + "/" + Self.shardName(shard).replacingSuffix(".jsonl", with: ".csv")
  }
  /// `logs/server-shard-NNNN.log` for a shard's only server, `...-K.log` for server K of several (one per GPU).
  public func serverLog(shard: Int, server: Int?) -> String {
    let base = logsDir + "/server-" + Self.shardName(shard).replacingSuffix(".jsonl", with: "")
    return base + (server.map { "-\($0)" } ?? "") + ".log"
  }

  /// `shard-0007.jsonl`: zero-padded so a directory listing sorts in shard order.
  public static func shardName(_ index: Int) -> String {
    let digits = String(index)
    return "shard-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + ".jsonl"
  }
}

extension String {
  func replacingSuffix(_ suffix: String, with replacement: String) -> String {
    hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
  }
}
