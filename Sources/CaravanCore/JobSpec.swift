/// A batch job as the user wrote it: model, prompts, variants, and where and how it runs.
///
/// Each key is declared once: a property, whose initial value is the key's default, and a row in
/// its section's `fields` table, which gives its name and how it is read and written (see
/// `SpecField`). The same type, encoded as JSON, is the resolved spec that `caravan submit`
/// writes into the run directory.
public struct JobSpec: Sendable, Equatable {
  public static let schemaVersion = 1

  public var name: String
  public var model: String
  /// Prompt file path, relative to the spec file.
  public var prompts: String
  /// What each prompt is sent for: an answer, or an embedding vector.
  public var task: Task = .generate
  public var repeats: Int = 1
  /// Folder that holds run directories, relative to the spec file.
  public var output: String = "./runs"
  /// Whether the run directory is readable by the owner's group (0750 folders, setgid, 0640
  /// files) instead of the owner alone (0700, 0600): results, logs and scripts can hold prompts.
  public var shareWithGroup: Bool = false
  /// Where shards run; nil lets `caravan submit` choose (Slurm when a cluster answers, else local).
  public var executor: Executor?
  public var engine = Engine()
  /// Variants as written; `sweep` adds more (see `Planner.variants`).
  public var variants: [VariantSpec] = []
  public var sweep: [SweepAxis] = []
  /// Structured output for every variant that does not give its own (`json` or a JSON schema).
  public var format: JSONValue?
  public var slurm = Slurm()
  public var container = Container()

  /// The top-level keys, in the README's order.
  static let fields: [SpecField<JobSpec>] = [
    SpecField(required: "name", \.name, "give the job a name of letters, digits, '-' and '_' (it names the Slurm job and the run directory)"),
    SpecField(required: "model", \.model, "give the Ollama model to run, e.g. gemma:7b"),
    SpecField(required: "prompts", \.prompts, "give the path of the prompt file (.jsonl or .txt)"),
    SpecField("task", \.task),
    SpecField("repeats", \.repeats),
    SpecField("output", \.output),
    SpecField("share_with_group", \.shareWithGroup),
    SpecField("executor", \.executor),
    SpecField("engine", \.engine),
    SpecField("variants", \.variants) { reader, node, path in reader.variants(node, path) },
    SpecField("sweep", \.sweep) { reader, node, path in reader.sweep(node, path) },
    SpecField("format", optional: \.format) { reader, node, path in reader.format(node, path) },
    SpecField("slurm", \.slurm),
    SpecField("container", \.container),
  ]

  public init(name: String, model: String, prompts: String) {
    self.name = name
    self.model = model
    self.prompts = prompts
  }

  /// `generate` sends each prompt for an answer (`/api/generate`, `/api/chat`,
  /// `/v1/completions`, `/v1/chat/completions`); `embed` sends prompts in batches of
  /// `engine.embed_batch` for vectors (`/api/embed`, `/v1/embeddings`).
  public enum Task: String, Codable, Sendable, CaseIterable, SpecChoice {
    case generate, embed
  }

  /// Where the shards run.
  public enum Executor: String, Codable, Sendable, CaseIterable, SpecChoice {
    case slurm, local
  }

  /// The inference server started inside each job.
  public struct Engine: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable, SpecChoice { case ollama, sim, openai }
    public var kind: Kind = .ollama
    /// Server command line, run through bash with PORT and OLLAMA_HOST set; nil means the kind's default.
    public var command: String?
    /// Requests in flight per server; also OLLAMA_NUM_PARALLEL.
    public var parallel: Int = 4
    /// `parallel: auto`: the worker finds the in-flight count per server itself (`ParallelRamp`),
    /// up to `maxParallel`, which the server is then started with as its slot count.
    public var parallelAuto = false
    /// The most requests in flight per server `parallel: auto` may try.
    public var maxParallel: Int = 16

    /// The server's slot count (OLLAMA_NUM_PARALLEL, llama.cpp's `-np`, `$PARALLEL`): the fixed
    /// in-flight count, or the most `auto` may try.
    public var serverSlots: Int { parallelAuto ? maxParallel : parallel }
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
    /// Inputs per embedding request.
    public var embedBatch: Int = 32

    /// The keys of `engine:`.
    static let fields: [SpecField<Engine>] = [
      SpecField("kind", \.kind),
      SpecField("command", \.command),
      SpecField(
        key: "parallel", requirement: nil,
        read: { reader, node, path, engine in
          // A whole number, or `auto`.
          if node.scalar?.string == "auto" {
            engine.parallelAuto = true
          } else if case .string(let text) = jsonValue(node) {
            reader.report(node, path, "expected a whole number of requests, or auto; found '\(text)'")
          } else if let value = reader.int(node, path) {
            engine.parallel = value
            engine.parallelAuto = false
          }
        },
        decode: { container, engine in
          if let text = try? container.decode(String.self, forKey: SpecCodingKey("parallel")), text == "auto" {
            engine.parallelAuto = true
          } else if let value = try container.decodeIfPresent(Int.self, forKey: SpecCodingKey("parallel")) {
            engine.parallel = value
          }
        },
        encode: { engine, container in
          if engine.parallelAuto { try container.encode("auto", forKey: SpecCodingKey("parallel")) } else { try container.encode(engine.parallel, forKey: SpecCodingKey("parallel")) }
        }),
      SpecField("max_parallel", \.maxParallel),
      SpecField("models_dir", \.modelsDir),
      SpecField("env", \.env),
      SpecField("ready_timeout", \.readyTimeout),
      SpecField("request_timeout", \.requestTimeout),
      SpecField("servers", \.servers),
      SpecField("max_restarts", \.maxRestarts),
      SpecField("telemetry_interval", \.telemetryInterval),
      SpecField("embed_batch", \.embedBatch),
    ]

    public init() {}

    public enum Servers: String, Codable, Sendable, CaseIterable, SpecChoice {
      /// One server per allocated GPU, each with its own port and CUDA_VISIBLE_DEVICES
      /// (Ollama loads a model that fits one GPU on one GPU only). Same as `one` with 0 or 1 GPU.
      case perGPU = "per-gpu"
      /// One server that sees every allocated GPU (for a model too large for one GPU).
      case one
    }
  }

  /// Scheduler settings; each maps to an `#SBATCH` directive.
  public struct Slurm: Sendable, Equatable {
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
    /// How the work reaches the tasks; nil: dynamic when there is more than one task.
    public var distribution: Distribution?
    /// Array tasks running at once (`--array=0-N%K`); nil: as many as Slurm allows.
    public var maxRunning: Int?
    /// A job array (one task a shard) or one job of `shards` nodes with a step on each.
    public var layout: Layout = .array
    /// Items per chunk with dynamic distribution; nil: chunks shrink as the work runs out.
    public var chunkSize: Int?
    /// Seconds without a heartbeat after which a task's claimed chunks are taken over.
    public var claimTimeout: Int = 120

    /// How array tasks get their work items.
    public enum Distribution: String, Codable, Sendable, CaseIterable, SpecChoice {
      /// Task i runs the i-th contiguous slice of the plan, and nothing else.
      case `static`
      /// The plan is cut into chunks that tasks claim on shared storage as they go.
      case dynamic
    }

    /// What Slurm is asked for.
    public enum Layout: String, Codable, Sendable, CaseIterable, SpecChoice {
      /// A job array: one task (one node's GPUs) per shard.
      case array
      /// One job of `shards` nodes, with one `srun` step on each node.
      case nodes
    }

    /// The distribution in force: dynamic unless asked otherwise, when there is more than one task.
    public var resolvedDistribution: Distribution { distribution ?? (shards > 1 ? .dynamic : .static) }

    /// The keys of `slurm:`.
    static let fields: [SpecField<Slurm>] = [
      SpecField("partition", \.partition),
      SpecField("account", \.account),
      SpecField("qos", \.qos),
      SpecField("time", \.time),
      SpecField("shards", \.shards),
      SpecField("gpus_per_node", \.gpusPerNode),
      SpecField("cpus_per_task", \.cpusPerTask),
      SpecField("mem", \.mem),
      SpecField("setup", \.setup),
      SpecField("extra", \.extra),
      SpecField("grace", \.grace),
      SpecField("max_requeues", \.maxRequeues),
      SpecField("distribution", \.distribution),
      SpecField("max_running", \.maxRunning),
      SpecField("layout", \.layout),
      SpecField("chunk_size", \.chunkSize),
      SpecField("claim_timeout", \.claimTimeout),
    ]

    public init() {}
  }

  /// How the server process is wrapped.
  public struct Container: Sendable, Equatable {
    public enum Runtime: String, Codable, Sendable, CaseIterable, SpecChoice { case apptainer, none }
    public var runtime: Runtime = .apptainer
    public var image: String?
    public var flags: [String] = ["--nv"]
    public var binds: [String] = []

    /// The keys of `container:`.
    static let fields: [SpecField<Container>] = [
      SpecField("runtime", \.runtime),
      SpecField("image", \.image),
      SpecField("flags", \.flags),
      SpecField("binds", \.binds),
    ]

    public init() {}
  }
}

// Each section reads, decodes and encodes through its `fields` table.
extension JobSpec: Codable, SpecSection {
  init() { self.init(name: "", model: "", prompts: "") }
  public init(from decoder: any Decoder) throws { try self.init(fieldsFrom: decoder) }
  public func encode(to encoder: any Encoder) throws { try encodeFields(to: encoder) }
}

extension JobSpec.Engine: Codable, SpecSection {
  public init(from decoder: any Decoder) throws { try self.init(fieldsFrom: decoder) }
  public func encode(to encoder: any Encoder) throws { try encodeFields(to: encoder) }
}

extension JobSpec.Slurm: Codable, SpecSection {
  public init(from decoder: any Decoder) throws { try self.init(fieldsFrom: decoder) }
  public func encode(to encoder: any Encoder) throws { try encodeFields(to: encoder) }
}

extension JobSpec.Container: Codable, SpecSection {
  public init(from decoder: any Decoder) throws { try self.init(fieldsFrom: decoder) }
  public func encode(to encoder: any Encoder) throws { try encodeFields(to: encoder) }
}

/// A variant as written: a name plus either Ollama options or Modelfile text.
public struct VariantSpec: Sendable, Equatable {
  public var name: String
  public var options: Options
  public var modelfile: String?
  /// Structured output: the text `json`, or a JSON schema (see `JSONSchema`) every answer of
  /// the variant must satisfy; a prompt line's own `format` wins.
  public var format: JSONValue?

  /// The keys of one item of `variants:`.
  static let fields: [SpecField<VariantSpec>] = [
    SpecField(required: "name", \.name, "give each variant a name of letters, digits, '-', '_', '.', '=' and ','"),
    SpecField("options", \.options) { reader, node, path in reader.options(node, path) },
    SpecField("modelfile", \.modelfile),
    SpecField("format", optional: \.format) { reader, node, path in reader.format(node, path) },
  ]

  public init(name: String, options: Options = [:], modelfile: String? = nil, format: JSONValue? = nil) {
    self.name = name
    self.options = options
    self.modelfile = modelfile
    self.format = format
  }
}

extension VariantSpec: Codable, SpecSection {
  init() { self.init(name: "") }
  public init(from decoder: any Decoder) throws { try self.init(fieldsFrom: decoder) }
  public func encode(to encoder: any Encoder) throws { try encodeFields(to: encoder) }
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
