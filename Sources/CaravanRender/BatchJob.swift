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
  /// Header comment: where this script came from.
  public var origin: String

  public init(name: String, runDir: String, shardCount: Int, slurm: JobSpec.Slurm, caravan: String, server: ServerLaunch, origin: String) {
    self.name = name
    self.runDir = runDir
    self.shardCount = shardCount
    self.slurm = slurm
    self.caravan = caravan
    self.server = server
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
    self.init(name: spec.name, runDir: runDir, shardCount: shardCount, slurm: spec.slurm, caravan: caravan, server: server, origin: origin)
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
