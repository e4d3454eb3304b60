/// One line of `results/shard-NNNN.jsonl`: the outcome of one work item, written once it is final.
public struct ResultRecord: Sendable, Equatable, Codable {
  public enum Status: String, Sendable, Codable { case ok, error }

  public var seq: Int
  public var id: String
  public var variant: String
  public var `repeat`: Int
  public var model: String
  public var options: Options
  public var status: Status
  public var response: String?
  public var error: String?
  public var doneReason: String?
  /// Ollama's timings, in nanoseconds, from the final response object.
  public var totalDuration: Int?
  public var loadDuration: Int?
  public var promptEvalCount: Int?
  public var promptEvalDuration: Int?
  public var evalCount: Int?
  public var evalDuration: Int?
  /// Wall time of the last attempt as the worker saw it.
  public var wallMs: Double
  /// Time to the first generated text of the last attempt.
  public var ttftMs: Double?
  /// Time the last attempt waited inside the server before its prompt was processed:
  /// time to first token less model load and prompt evaluation (an estimate, never negative).
  public var queueMs: Double?
  public var node: String
  public var shard: Int
  /// Which of the shard's servers answered (one per GPU with `engine.servers: per-gpu`).
  public var server: Int?
  /// That server's CUDA_VISIBLE_DEVICES, when it had one.
  public var gpu: String?
  /// Tries it took (1 when the first one settled it).
  public var attempts: Int
  public var jobId: String?
  /// ISO 8601 time the record was written.
  public var finishedAt: String

  public var key: WorkKey { WorkKey(id: id, variant: variant, repeat: `repeat`) }

  public init(item: WorkItem, status: Status, node: String, shard: Int, attempts: Int, wallMs: Double, finishedAt: String) {
    self.seq = item.seq
    self.id = item.id
    self.variant = item.variant
    self.repeat = item.repeat
    self.model = item.model
    self.options = item.options
    self.status = status
    self.node = node
    self.shard = shard
    self.attempts = attempts
    self.wallMs = wallMs
    self.finishedAt = finishedAt
  }

  enum CodingKeys: String, CodingKey {
    case seq, id, variant, `repeat`, model, options, status, response, error, node, shard, attempts
    case doneReason = "done_reason"
    case totalDuration = "total_duration"
    case loadDuration = "load_duration"
    case promptEvalCount = "prompt_eval_count"
    case promptEvalDuration = "prompt_eval_duration"
    case evalCount = "eval_count"
    case evalDuration = "eval_duration"
    case wallMs = "wall_ms"
    case ttftMs = "ttft_ms"
    case queueMs = "queue_ms"
    case server, gpu
    case jobId = "job_id"
    case finishedAt = "finished_at"
  }

  /// Records are written with every key present (null when unknown), so each line has the same columns.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(seq, forKey: .seq)
    try c.encode(id, forKey: .id)
    try c.encode(variant, forKey: .variant)
    try c.encode(`repeat`, forKey: .repeat)
    try c.encode(model, forKey: .model)
    try c.encode(options, forKey: .options)
    try c.encode(status, forKey: .status)
    try c.encode(response, forKey: .response)
    try c.encode(error, forKey: .error)
    try c.encode(doneReason, forKey: .doneReason)
    try c.encode(totalDuration, forKey: .totalDuration)
    try c.encode(loadDuration, forKey: .loadDuration)
    try c.encode(promptEvalCount, forKey: .promptEvalCount)
    try c.encode(promptEvalDuration, forKey: .promptEvalDuration)
    try c.encode(evalCount, forKey: .evalCount)
    try c.encode(evalDuration, forKey: .evalDuration)
    try c.encode(wallMs, forKey: .wallMs)
    try c.encode(ttftMs, forKey: .ttftMs)
    try c.encode(queueMs, forKey: .queueMs)
    try c.encode(node, forKey: .node)
    try c.encode(shard, forKey: .shard)
    try c.encode(server, forKey: .server)
    try c.encode(gpu, forKey: .gpu)
    try c.encode(attempts, forKey: .attempts)
    try c.encode(jobId, forKey: .jobId)
    try c.encode(finishedAt, forKey: .finishedAt)
  }
}

/// What `caravan submit` records about a run, read back by the worker, `status` and `collect`.
public struct Manifest: Sendable, Equatable, Codable {
  public var schema: Int = JobSpec.schemaVersion
  public var name: String
  public var runID: String
  public var createdAt: String
  public var caravanVersion: String
  public var specFile: String
  public var totalItems: Int
  public var shards: [ShardInfo]
  public var variants: [Variant]

  /// One shard: Slurm array task `index` runs `items` work items.
  public struct ShardInfo: Sendable, Equatable, Codable {
    public var index: Int
    public var items: Int
    public init(index: Int, items: Int) {
      self.index = index
      self.items = items
    }
  }

  public init(name: String, runID: String, createdAt: String, caravanVersion: String, specFile: String, plan: Plan) {
    self.name = name
    self.runID = runID
    self.createdAt = createdAt
    self.caravanVersion = caravanVersion
    self.specFile = specFile
    self.totalItems = plan.items.count
    self.shards = plan.shards.enumerated().map { ShardInfo(index: $0.offset, items: $0.element.count) }
    self.variants = plan.variants
  }

  enum CodingKeys: String, CodingKey {
    case schema, name, shards, variants
    case runID = "run_id"
    case createdAt = "created_at"
    case caravanVersion = "caravan_version"
    case specFile = "spec_file"
    case totalItems = "total_items"
  }
}

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
  public var summary: String { root + "/summary.json" }

  public func shardFile(_ index: Int) -> String { shardsDir + "/" + Self.shardName(index) }
  public func resultFile(_ index: Int) -> String { resultsDir + "/" + Self.shardName(index) }
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
