/// How the inference server is started on the node: the container, the engine command and the
/// server's environment. `CaravanRender` turns it into `server.sh`, the one place that spells
/// out the container invocation (`apptainer exec ...`).
public struct ServerLaunch: Sendable, Equatable {
  public var runtime: JobSpec.Container.Runtime
  public var image: String
  /// `apptainer exec` flags from the spec (`--nv` by default, or `--nvccli`, `--containall`, ...).
  public var flags: [String]
  public var binds: [String]
  /// The engine command line (`ollama serve`, or the simulator).
  public var command: String
  public var modelsDir: String?
  public var parallel: Int
  public var env: [String: String]
  /// The API the server speaks: Ollama's variables are set for `ollama` and `sim` only.
  public var engine: JobSpec.Engine.Kind
  /// The model requests name (`$MODEL` in the command): what an OpenAI-compatible server must serve.
  public var model: String
  /// The spec file's folder (`$SPEC_DIR` in the command), for launch scripts and models kept
  /// beside the spec; empty when unknown.
  public var specDir: String

  public init(
    runtime: JobSpec.Container.Runtime, image: String, flags: [String], binds: [String], command: String, modelsDir: String?, parallel: Int,
    env: [String: String], engine: JobSpec.Engine.Kind = .ollama, model: String = "", specDir: String = ""
  ) {
    self.engine = engine
    self.model = model
    self.specDir = specDir
    self.runtime = runtime
    self.image = image
    self.flags = flags
    self.binds = binds
    self.command = command
    self.modelsDir = modelsDir
    self.parallel = parallel
    self.env = env
  }

  /// Defaults for a batch server, each overridable through `engine.env`:
  /// - OLLAMA_KEEP_ALIVE=-1: never unload the model between requests of a batch.
  /// - OLLAMA_NOPRUNE=1: several servers may share one model store; none may prune it.
  /// - OLLAMA_LOAD_TIMEOUT=30m: a first load from NFS or Lustre can exceed the default 5 minutes.
  public static let batchDefaults: [(String, String)] = [
    ("OLLAMA_KEEP_ALIVE", "-1"),
    ("OLLAMA_NOPRUNE", "1"),
    ("OLLAMA_LOAD_TIMEOUT", "30m"),
  ]

  /// Server environment, in a stable order: `MODEL`, `PARALLEL` and `SPEC_DIR` for the command
  /// line (`llama-server ... --alias $MODEL -np $PARALLEL`), Ollama's settings for Ollama, then
  /// `engine.env`. OLLAMA_HOST and HOME are not here: they need $PORT and $SERVER_HOME, and are
  /// passed explicitly by `commandLines()`.
  public var environment: [(String, String)] {
    var list: [(String, String)] = [("MODEL", model), ("PARALLEL", String(parallel))]
    if !specDir.isEmpty { list.append(("SPEC_DIR", specDir)) }
    if engine != .openai {
      list.append(("OLLAMA_NUM_PARALLEL", String(parallel)))
      list += Self.batchDefaults.filter { env[$0.0] == nil }
      if let modelsDir { list.append(("OLLAMA_MODELS", modelsDir)) }
    }
    list += env.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    return list
  }

  /// `--containall` and `--cleanenv` drop host variables, CUDA_VISIBLE_DEVICES (Slurm's GPU choice) among them.
  public var dropsHostEnvironment: Bool {
    flags.contains { ["--containall", "-C", "--cleanenv", "-e", "--contain"].contains($0) }
  }
}
