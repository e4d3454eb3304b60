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
  /// The server's timings, in Ollama's fields (nanoseconds), written flat into the record.
  public var timings = ServerTimings()
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
  /// The prompt line's `meta`, unchanged (null when it had none).
  public var meta: JSONValue?
  /// With a structured-output `format`: the answer parsed as JSON (nil when it is not JSON),
  /// whether it satisfies the format as Caravan checks it (false for an error record), and why
  /// not. All nil for free text, and then left out of the record.
  public var parsed: JSONValue?
  public var schemaValid: Bool?
  public var schemaErrors: [String]?
  /// With `task: embed`: the input's vector (float32), instead of a response. Left out otherwise.
  public var embedding: [Float]?

  public var key: WorkKey { WorkKey(id: id, variant: variant, repeat: `repeat`) }

  public init(item: WorkItem, status: Status, node: String, shard: Int, attempts: Int, wallMs: Double, finishedAt: String) {
    self.seq = item.seq
    self.id = item.id
    self.variant = item.variant
    self.repeat = item.repeat
    self.model = item.model
    self.options = item.options
    self.meta = item.meta
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
    case wallMs = "wall_ms"
    case ttftMs = "ttft_ms"
    case queueMs = "queue_ms"
    case server, gpu, meta, parsed, embedding
    case schemaValid = "schema_valid"
    case schemaErrors = "schema_errors"
    case jobId = "job_id"
    case finishedAt = "finished_at"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    seq = try c.decode(Int.self, forKey: .seq)
    id = try c.decode(String.self, forKey: .id)
    variant = try c.decode(String.self, forKey: .variant)
    `repeat` = try c.decode(Int.self, forKey: .repeat)
    model = try c.decode(String.self, forKey: .model)
    options = try c.decode(Options.self, forKey: .options)
    status = try c.decode(Status.self, forKey: .status)
    response = try c.decodeIfPresent(String.self, forKey: .response)
    error = try c.decodeIfPresent(String.self, forKey: .error)
    doneReason = try c.decodeIfPresent(String.self, forKey: .doneReason)
    timings = try ServerTimings(from: decoder)
    wallMs = try c.decode(Double.self, forKey: .wallMs)
    ttftMs = try c.decodeIfPresent(Double.self, forKey: .ttftMs)
    queueMs = try c.decodeIfPresent(Double.self, forKey: .queueMs)
    node = try c.decode(String.self, forKey: .node)
    shard = try c.decode(Int.self, forKey: .shard)
    server = try c.decodeIfPresent(Int.self, forKey: .server)
    gpu = try c.decodeIfPresent(String.self, forKey: .gpu)
    attempts = try c.decode(Int.self, forKey: .attempts)
    jobId = try c.decodeIfPresent(String.self, forKey: .jobId)
    finishedAt = try c.decode(String.self, forKey: .finishedAt)
    meta = try c.decodeIfPresent(JSONValue.self, forKey: .meta)
    parsed = try c.decodeIfPresent(JSONValue.self, forKey: .parsed)
    schemaValid = try c.decodeIfPresent(Bool.self, forKey: .schemaValid)
    schemaErrors = try c.decodeIfPresent([String].self, forKey: .schemaErrors)
    embedding = try c.decodeIfPresent([Float].self, forKey: .embedding)
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
    try timings.encode(to: encoder)
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
    try c.encode(meta ?? .null, forKey: .meta)
    if let schemaValid {
      try c.encode(parsed ?? .null, forKey: .parsed)
      try c.encode(schemaValid, forKey: .schemaValid)
      try c.encodeIfPresent(schemaErrors, forKey: .schemaErrors)
    }
    try c.encodeIfPresent(embedding, forKey: .embedding)
  }

  /// Checks the answer against the item's structured-output format (nothing without one).
  public mutating func check(format: JSONValue?) {
    guard let format else { return }
    guard status == .ok, let response else {
      (parsed, schemaValid, schemaErrors) = (nil, false, nil)
      return
    }
    let result = StructuredFormat.check(response, against: format)
    parsed = result.parsed
    schemaValid = result.valid
    schemaErrors = result.problems.isEmpty ? nil : result.problems
  }
}
