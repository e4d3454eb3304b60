/// Everything the job script says, resolved from the spec and the run directory.
///
/// The same value renders the `#SBATCH` lines (CaravanRender) and fills libslurm's job
/// description field by field (CaravanSlurm), so the two submission paths cannot drift apart.
/// Every array task runs on one node (a `layout: nodes` job on `shardCount` nodes, one step
/// each), requeues on a time limit, appends to its log, and gets TERM `slurm.grace` seconds
/// before its limit; those settings are not fields because they never vary.
public struct BatchJob: Sendable, Equatable {
  public var name: String
  public var runDir: String
  /// Array tasks (or nodes with `layout: nodes`): one a shard with static distribution.
  public var shardCount: Int
  public var slurm: JobSpec.Slurm
  /// Absolute path of the `caravan` executable the job runs.
  public var caravan: String
  public var server: ServerLaunch
  /// Header comment: where this script came from.
  public var origin: String
  /// Who may read the run directory: the job script sets the matching umask.
  public var permissions = RunPermissions()

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
  /// `specDir` is the spec file's folder, given to the server command as `$SPEC_DIR`.
  public init(spec: JobSpec, runDir: String, shardCount: Int, caravan: String, engineCommand: String, origin: String, specDir: String = "") {
    let server = ServerLaunch(
      runtime: spec.container.runtime,
      image: spec.container.image ?? "",
      flags: spec.container.flags,
      binds: spec.container.binds,
      command: engineCommand,
      modelsDir: spec.engine.modelsDir,
      parallel: spec.engine.serverSlots,
      env: spec.engine.env,
      engine: spec.engine.kind,
      model: spec.model,
      specDir: specDir
    )
    self.init(name: spec.name, runDir: runDir, shardCount: shardCount, slurm: spec.slurm, caravan: caravan, server: server, origin: origin)
    permissions = RunPermissions(spec)
  }

  /// The array tasks to run when not every shard (`caravan resume`); nil runs them all.
  public var shards: [Int]?

  /// The shards this job runs, in order.
  public var shardIndices: [Int] { shards ?? Array(0..<shardCount) }

  /// `--array`: one index per task, as ranges (`0-3`, or `1,4-6` for some of them), then
  /// `%K` with `slurm.max_running`.
  public var arrayIndices: String {
    rangeList + (slurm.maxRunning.map { "%\($0)" } ?? "")
  }

  /// The task indices as ranges (`0-3`, `1,4-6`).
  var rangeList: String {
    var ranges: [String] = []
    var indices = shardIndices.sorted()[...]
    while let first = indices.first {
      var last = first
      indices = indices.dropFirst()
      while let next = indices.first, next == last + 1 {
        last = next
        indices = indices.dropFirst()
      }
      ranges.append(first == last ? "\(first)" : "\(first)-\(last)")
    }
    return ranges.joined(separator: ",")
  }
  /// `--output`: Slurm's own log of each array task (of the job with `layout: nodes`), appended
  /// across requeues (`%A_%a` and `%j` are expanded by Slurm).
  public var outputPattern: String { runDir + (slurm.layout == .nodes ? "/logs/slurm-%j.out" : "/logs/slurm-%A_%a.out") }

  /// The highest array index this job uses (checked against the cluster's MaxArraySize).
  public var highestArrayIndex: Int? { slurm.layout == .array ? shardIndices.max() : nil }
  /// `--gres`: nil when the job asks for no GPU.
  public var gres: String? { slurm.gpusPerNode > 0 ? "gpu:\(slurm.gpusPerNode)" : nil }
}
