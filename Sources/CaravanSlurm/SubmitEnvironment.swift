import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The environment a batch job is given, built as `sbatch --export=ALL` builds it: the
/// submitting process's variables plus the `SLURM_*` values sbatch adds before it submits.
///
/// libslurm requires an environment (without one the job fails with errno 2019). slurmd reads
/// SLURM_UMASK and SLURM_RLIMIT_* to set the job's umask and resource limits; SLURM_JOB_NAME,
/// SLURM_CPUS_PER_TASK, SLURM_OPEN_MODE, SLURM_SUBMIT_DIR and SLURM_SUBMIT_HOST come only from
/// sbatch, and scripts (and srun inside them) read them. A test compares the variable names a
/// libslurm job and an sbatch job see.
public enum SubmitEnvironment {
  /// Resource limits sbatch propagates by default (PropagateResourceLimits=ALL).
  static let limits: [(name: String, resource: Int32)] = [
    ("CPU", 0), ("FSIZE", 1), ("DATA", 2), ("STACK", 3), ("CORE", 4), ("RSS", 5), ("NPROC", 6), ("NOFILE", 7),
    ("MEMLOCK", 8), ("AS", 9),
  ]

  /// `KEY=VALUE` lines, sorted by key.
  public static func current(for request: SlurmJobRequest, base: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
    var environment = base
    // sbatch exports these from its options; slurmd does not set them for a batch job itself.
    if let name = request.name { environment["SLURM_JOB_NAME"] = name }
    if let cpus = request.cpusPerTask { environment["SLURM_CPUS_PER_TASK"] = String(cpus) }
    environment["SLURM_SUBMIT_DIR"] = FileManager.default.currentDirectoryPath
    environment["SLURM_SUBMIT_HOST"] = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    if environment["SLURM_UMASK"] == nil, let mask = umask() { environment["SLURM_UMASK"] = mask }
    environment["SLURM_PRIO_PROCESS"] = String(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
    // sbatch passes --open-mode on to the job's own steps this way.
    if let openMode = request.openMode { environment["SLURM_OPEN_MODE"] = openMode == .append ? "a" : "t" }
    for (name, resource) in limits {
      var limit = rlimit()
      if getrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0 { environment["SLURM_RLIMIT_\(name)"] = String(limit.rlim_cur) }
    }
    return environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }
  }

  /// This process's umask as sbatch writes it (`0022`), read from /proc so the mask is never changed.
  static func umask() -> String? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("Umask:") {
      return line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces)
    }
    return nil
  }
}
