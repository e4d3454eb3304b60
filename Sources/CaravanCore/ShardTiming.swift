/// One line of `timing/shard-NNNN.jsonl`. The worker appends a `server` line each time it has a
/// server ready (first start, restart after a crash, or a requeued job), and a `shard` line when it
/// stops, so one file tells the whole history of a shard across restarts and requeues.
public struct ShardTimingEvent: Sendable, Equatable, Codable {
  public enum Kind: String, Sendable, Codable { case server, shard }

  public var event: Kind
  public var shard: Int
  public var node: String
  public var jobId: String?
  /// SLURM_RESTART_COUNT: 0 for the first run of the job, n after n requeues.
  public var restartCount: Int
  /// ISO 8601 time this line was written.
  public var at: String

  // `server` lines.
  /// Which of the shard's servers (0 ..< servers), and how often it had been restarted before.
  public var server: Int?
  public var serverRestarts: Int?
  /// The CUDA_VISIBLE_DEVICES the server got; nil when it got none.
  public var cudaVisibleDevices: String?
  public var gpus: [GPUInfo]?
  public var port: Int?
  public var startedAt: String?
  public var readyAt: String?
  public var startToReadyMs: Double?
  /// Per model: time the server took to load it (Ollama's load_duration of a warm-up request).
  public var modelLoadMs: [String: Double]?

  // `shard` lines.
  public var firstRequestAt: String?
  public var lastRequestAt: String?
  public var requestsSent: Int?
  /// How the shard ended: `done`, `stopped` (TERM), `failed: <reason>`.
  public var outcome: String?
  /// `ok`, or `unavailable: <why>` when no telemetry was recorded (no nvidia-smi, say).
  public var telemetry: String?
  /// Dynamic distribution: chunks this task run claimed (`chunks_reclaimed` of them taken over
  /// from a holder that stopped heartbeating), and the file-system operations the claims took
  /// (listings, creates, heartbeat reads and rewrites).
  public var chunks: Int?
  public var chunksReclaimed: Int?
  public var claimOperations: Int?
  /// `engine.parallel: auto`: the in-flight count per server chosen, and each count tried with
  /// the throughput it gave.
  public var parallelChosen: Int?
  public var parallelTrials: [ParallelRamp.Trial]?

  public init(event: Kind, shard: Int, node: String, jobId: String?, restartCount: Int, at: String) {
    self.event = event
    self.shard = shard
    self.node = node
    self.jobId = jobId
    self.restartCount = restartCount
    self.at = at
  }

  enum CodingKeys: String, CodingKey {
    case event, shard, node, at, server, gpus, port, outcome, telemetry
    case jobId = "job_id"
    case restartCount = "restart_count"
    case serverRestarts = "server_restarts"
    case cudaVisibleDevices = "cuda_visible_devices"
    case startedAt = "started_at"
    case readyAt = "ready_at"
    case startToReadyMs = "start_to_ready_ms"
    case modelLoadMs = "model_load_ms"
    case firstRequestAt = "first_request_at"
    case lastRequestAt = "last_request_at"
    case requestsSent = "requests_sent"
    case chunks
    case chunksReclaimed = "chunks_reclaimed"
    case claimOperations = "claim_operations"
    case parallelChosen = "parallel_chosen"
    case parallelTrials = "parallel_trials"
  }
}
