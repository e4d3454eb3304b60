import CaravanCore

/// Everything the job script says, resolved from the spec and the run directory.
///
/// The same value renders the `#SBATCH` lines and (in CaravanSlurm) fills libslurm's job
/// description, so the two submission paths cannot drift apart.
public struct BatchJob: Sendable, Equatable {
  public var name: String
  public var runDir: String
  public var shardCount: Int
  public var slurm: JobSpec.Slurm
  /// Absolute path of the `caravan` executable the job runs.
  public var caravan: String
  public var server: ServerLaunch
  public var readyTimeout: Int
  /// Header comment: where this script came from.
  public var origin: String

  public init(name: String, runDir: String, shardCount: Int, slurm: JobSpec.Slurm, caravan: String, server: ServerLaunch, readyTimeout: Int, origin: String) {
    self.name = name
    self.runDir = runDir
    self.shardCount = shardCount
    self.slurm = slurm
    self.caravan = caravan
    self.server = server
    self.readyTimeout = readyTimeout
    self.origin = origin
  }

  /// Builds the job from a validated spec; `engineCommand` is the resolved server command line.
  public init(spec: JobSpec, runDir: String, shardCount: Int, caravan: String, engineCommand: String, origin: String) {
    let server = ServerLaunch(
      runtime: spec.container.runtime,
      image: spec.container.image ?? "",
      flags: spec.container.flags,
      binds: spec.container.binds,
      command: engineCommand,
      modelsDir: spec.engine.modelsDir,
      parallel: spec.engine.parallel,
      env: spec.engine.env
    )
    self.init(name: spec.name, runDir: runDir, shardCount: shardCount, slurm: spec.slurm, caravan: caravan, server: server, readyTimeout: spec.engine.readyTimeout, origin: origin)
  }

  /// One `#SBATCH` option.
  public struct Directive: Sendable, Equatable {
    public var option: String
    public var value: String?
    public init(_ option: String, _ value: String? = nil) {
      self.option = option
      self.value = value
    }
  }

  /// The scheduler options, in the order they are written.
  public var directives: [Directive] {
    var list: [Directive] = [Directive("--job-name", name)]
    list.append(Directive("--array", shardCount == 1 ? "0" : "0-\(shardCount - 1)"))
    if let partition = slurm.partition { list.append(Directive("--partition", partition)) }
    if let account = slurm.account { list.append(Directive("--account", account)) }
    if let qos = slurm.qos { list.append(Directive("--qos", qos)) }
    if let time = slurm.time { list.append(Directive("--time", time)) }
    list.append(Directive("--nodes", "1"))
    list.append(Directive("--ntasks", "1"))
    if slurm.gpusPerNode > 0 { list.append(Directive("--gres", "gpu:\(slurm.gpusPerNode)")) }
    if let cpus = slurm.cpusPerTask { list.append(Directive("--cpus-per-task", String(cpus))) }
    if let mem = slurm.mem { list.append(Directive("--mem", mem)) }
    list.append(Directive("--signal", "B:TERM@\(slurm.grace)"))
    list.append(Directive("--requeue"))
    list.append(Directive("--open-mode", "append"))
    list.append(Directive("--output", runDir + "/logs/slurm-%A_%a.out"))
    list.append(Directive("--chdir", runDir))
    return list
  }
}

/// How the inference server is started on the node.
public struct ServerLaunch: Sendable, Equatable {
  public var runtime: JobSpec.Container.Runtime
  public var image: String
  public var flags: [String]
  public var binds: [String]
  /// The engine command line (`ollama serve`, or the simulator).
  public var command: String
  public var modelsDir: String?
  public var parallel: Int
  public var env: [String: String]

  public init(runtime: JobSpec.Container.Runtime, image: String, flags: [String], binds: [String], command: String, modelsDir: String?, parallel: Int, env: [String: String]) {
    self.runtime = runtime
    self.image = image
    self.flags = flags
    self.binds = binds
    self.command = command
    self.modelsDir = modelsDir
    self.parallel = parallel
    self.env = env
  }

  /// Server environment, in a stable order. OLLAMA_HOST is not here: it needs $PORT and is
  /// passed explicitly, because Apptainer lets an image's ENV beat the host's variables.
  public var environment: [(String, String)] {
    var list: [(String, String)] = [
      ("OLLAMA_NUM_PARALLEL", String(parallel)),
      ("OLLAMA_KEEP_ALIVE", "-1"),
    ]
    if let modelsDir { list.append(("OLLAMA_MODELS", modelsDir)) }
    for name in env.keys.sorted() { list.append((name, env[name]!)) }
    return list
  }
}
