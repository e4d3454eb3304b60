import CaravanCore

/// The `#SBATCH` lines of a job: what sbatch reads from `job.sbatch`.
extension BatchJob {
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
    let nodes = slurm.layout == .nodes
    if !nodes { list.append(Directive("--array", arrayIndices)) }
    if let partition = slurm.partition { list.append(Directive("--partition", partition)) }
    if let account = slurm.account { list.append(Directive("--account", account)) }
    if let qos = slurm.qos { list.append(Directive("--qos", qos)) }
    if let time = slurm.time { list.append(Directive("--time", time)) }
    list.append(Directive("--nodes", nodes ? String(shardCount) : "1"))
    if nodes { list.append(Directive("--ntasks-per-node", "1")) }
    list.append(Directive("--ntasks", nodes ? String(shardCount) : "1"))
    if let gres { list.append(Directive("--gres", gres)) }
    if let cpus = slurm.cpusPerTask { list.append(Directive("--cpus-per-task", String(cpus))) }
    if let mem = slurm.mem { list.append(Directive("--mem", mem)) }
    // An array task's worker is a child of the batch shell; with `layout: nodes` each node's
    // worker runs in a step of its own, which gets the signal too.
    list.append(Directive("--signal", (nodes ? "" : "B:") + "TERM@\(slurm.grace)"))
    list.append(Directive("--requeue"))
    list.append(Directive("--open-mode", "append"))
    list.append(Directive("--output", outputPattern))
    list.append(Directive("--chdir", runDir))
    return list
  }
}
