/// A batch job as the user wrote it: model, prompts, variants, and where and how it runs.
///
/// Defaults live here and only here. The same type, encoded as JSON, is the resolved spec that
/// `caravan submit` writes into the run directory.
public struct JobSpec: Codable, Sendable, Equatable {
  public static let schemaVersion = 1

  public var name: String
  public var model: String
  /// Prompt file path, relative to the spec file.
  public var prompts: String
  public var repeats: Int = 1
  /// Folder that holds run directories, relative to the spec file.
  public var output: String = "./runs"
  /// Where shards run; nil lets `caravan submit` choose (Slurm when a cluster answers, else local).
  public var executor: Executor?
  public var engine = Engine()
  /// Variants as written; `sweep` adds more (see `Planner.variants`).
  public var variants: [VariantSpec] = []
  public var sweep: [SweepAxis] = []
  public var slurm = Slurm()
  public var container = Container()

  public init(name: String, model: String, prompts: String) {
    self.name = name
    self.model = model
    self.prompts = prompts
  }

  /// Where the shards run.
  public enum Executor: String, Codable, Sendable, CaseIterable {
    case slurm, local
  }

  /// The inference server started inside each job.
  public struct Engine: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case ollama, sim, openai }
    public var kind: Kind = .ollama
    /// Server command line, run through bash with PORT and OLLAMA_HOST set; nil means the kind's default.
    public var command: String?
    /// Requests in flight per server; also OLLAMA_NUM_PARALLEL.
    public var parallel: Int = 4
    public var modelsDir: String?
    public var env: [String: String] = [:]
    /// Seconds the worker waits for a server's first HTTP answer (model loads are not counted).
    public var readyTimeout: Int = 600
    /// Seconds one request may take, generation included. A request that takes longer is
    /// abandoned and counts as a failed attempt (a hung server is not a dead one).
    public var requestTimeout: Int = 3600
    /// How many servers a shard runs: one per allocated GPU, or one for all of them.
    public var servers: Servers = .perGPU
    /// Times the worker restarts a server that died, per server and job run, before the shard fails.
    public var maxRestarts: Int = 3
    /// Milliseconds between nvidia-smi samples; 0 turns GPU telemetry off.
    public var telemetryInterval: Int = 1000
    public init() {}

    public enum Servers: String, Codable, Sendable, CaseIterable {
      /// One server per allocated GPU, each with its own port and CUDA_VISIBLE_DEVICES
      /// (Ollama loads a model that fits one GPU on one GPU only). Same as `one` with 0 or 1 GPU.
      case perGPU = "per-gpu"
      /// One server that sees every allocated GPU (for a model too large for one GPU).
      case one
    }

    enum CodingKeys: String, CodingKey {
      case kind, command, parallel, env, servers
      case modelsDir = "models_dir"
      case readyTimeout = "ready_timeout"
      case requestTimeout = "request_timeout"
      case maxRestarts = "max_restarts"
      case telemetryInterval = "telemetry_interval"
    }

    /// A key missing from a resolved spec takes its default: a requeued job that a newer
    /// caravan runs still reads the run directory an older one wrote.
    public init(from decoder: any Decoder) throws {
      self.init()
      let keys = try decoder.container(keyedBy: CodingKeys.self)
      kind = try keys.decodeIfPresent(Kind.self, forKey: .kind) ?? kind
      command = try keys.decodeIfPresent(String.self, forKey: .command)
      parallel = try keys.decodeIfPresent(Int.self, forKey: .parallel) ?? parallel
      modelsDir = try keys.decodeIfPresent(String.self, forKey: .modelsDir)
      env = try keys.decodeIfPresent([String: String].self, forKey: .env) ?? env
      readyTimeout = try keys.decodeIfPresent(Int.self, forKey: .readyTimeout) ?? readyTimeout
      requestTimeout = try keys.decodeIfPresent(Int.self, forKey: .requestTimeout) ?? requestTimeout
      servers = try keys.decodeIfPresent(Servers.self, forKey: .servers) ?? servers
      maxRestarts = try keys.decodeIfPresent(Int.self, forKey: .maxRestarts) ?? maxRestarts
      telemetryInterval = try keys.decodeIfPresent(Int.self, forKey: .telemetryInterval) ?? telemetryInterval
    }
  }

  /// Scheduler settings; each maps to an `#SBATCH` directive.
  public struct Slurm: Codable, Sendable, Equatable {
    public var partition: String?
    public var account: String?
    public var qos: String?
    public var time: String?
    public var shards: Int = 1
    public var gpusPerNode: Int = 1
    public var cpusPerTask: Int?
    public var mem: String?
    /// Shell lines run first in the job (`module load apptainer`).
    public var setup: [String] = []
    /// Additional `#SBATCH` directives, written as given (`--constraint=a100`).
    public var extra: [String] = []
    /// Seconds before the time limit at which Slurm sends TERM to the batch shell.
    public var grace: Int = 120
    /// When the time limit (not a cancel) stopped a shard with work left, the worker requeues its
    /// own job (`scontrol requeue`) up to this many times; 0 turns that off.
    public var maxRequeues: Int = 3
    public init() {}

    enum CodingKeys: String, CodingKey {
      case partition, account, qos, time, shards, mem, setup, extra, grace
      case maxRequeues = "max_requeues"
      case gpusPerNode = "gpus_per_node"
      case cpusPerTask = "cpus_per_task"
    }

    /// A key missing from a resolved spec takes its default, as in `Engine`.
    public init(from decoder: any Decoder) throws {
      self.init()
      let keys = try decoder.container(keyedBy: CodingKeys.self)
      partition = try keys.decodeIfPresent(String.self, forKey: .partition)
      account = try keys.decodeIfPresent(String.self, forKey: .account)
      qos = try keys.decodeIfPresent(String.self, forKey: .qos)
      time = try keys.decodeIfPresent(String.self, forKey: .time)
      shards = try keys.decodeIfPresent(Int.self, forKey: .shards) ?? shards
      gpusPerNode = try keys.decodeIfPresent(Int.self, forKey: .gpusPerNode) ?? gpusPerNode
      cpusPerTask = try keys.decodeIfPresent(Int.self, forKey: .cpusPerTask)
      mem = try keys.decodeIfPresent(String.self, forKey: .mem)
      setup = try keys.decodeIfPresent([String].self, forKey: .setup) ?? setup
      extra = try keys.decodeIfPresent([String].self, forKey: .extra) ?? extra
      grace = try keys.decodeIfPresent(Int.self, forKey: .grace) ?? grace
      maxRequeues = try keys.decodeIfPresent(Int.self, forKey: .maxRequeues) ?? maxRequeues
    }
  }

  /// How the server process is wrapped.
  public struct Container: Codable, Sendable, Equatable {
    public enum Runtime: String, Codable, Sendable, CaseIterable { case apptainer, none }
    public var runtime: Runtime = .apptainer
    public var image: String?
    public var flags: [String] = ["--nv"]
    public var binds: [String] = []
    public init() {}
  }
}

/// A variant as written: a name plus either Ollama options or Modelfile text.
public struct VariantSpec: Codable, Sendable, Equatable {
  public var name: String
  public var options: Options
  public var modelfile: String?

  public init(name: String, options: Options = [:], modelfile: String? = nil) {
    self.name = name
    self.options = options
    self.modelfile = modelfile
  }
}

/// One axis of a sweep: an option and the values it takes.
public struct SweepAxis: Codable, Sendable, Equatable {
  public var option: String
  public var values: [JSONValue]

  public init(option: String, values: [JSONValue]) {
    self.option = option
    self.values = values
  }
}
