import Foundation

/// How a job reaches Slurm: through libslurm in this process, or through the `sbatch` command.
public enum SchedulerKind: String, Sendable, CaseIterable {
  case libslurm
  case sbatch
}

/// Picks the Slurm scheduler for `caravan submit`.
public enum Schedulers {
  /// True when this binary was built with the LibSlurm package trait (the default).
  public static var libslurmIsBuiltIn: Bool {
    #if LibSlurm
      return true
    #else
      return false
    #endif
  }

  /// The scheduler to submit through, and a note when the user should know why.
  public static func choose(
    _ requested: SchedulerKind?, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> (scheduler: any Scheduler, note: String?) {
    let (kind, note) = try kind(requested, environment: environment)
    switch kind {
    case .sbatch:
      return (SlurmCLI(), note)
    case .libslurm:
      #if LibSlurm
        return (LibSlurm(configuration: SlurmConfiguration(environment: environment)), note)
      #else
        preconditionFailure("kind(_:) picks libslurm only when it is built in")
      #endif
    }
  }

  /// `requested` when given; otherwise libslurm when it is built in and slurm.conf is readable,
  /// else sbatch. The note says why sbatch was chosen when libslurm is built in.
  public static func kind(
    _ requested: SchedulerKind?,
    environment: [String: String] = ProcessInfo.processInfo.environment,
    fileIsReadable: (String) -> Bool = { FileManager.default.isReadableFile(atPath: $0) }
  ) throws -> (kind: SchedulerKind, note: String?) {
    let configuration = SlurmConfiguration(environment: environment)
    switch requested {
    case .sbatch:
      return (.sbatch, nil)
    case .libslurm:
      guard libslurmIsBuiltIn else {
        throw SchedulerError("this caravan was built without libslurm (the LibSlurm package trait was off); use `--scheduler sbatch`, or rebuild with libslurm-dev installed")
      }
      guard configuration.isReadable(fileIsReadable) else { throw configuration.missingError }
      return (.libslurm, nil)
    case nil:
      guard libslurmIsBuiltIn else { return (.sbatch, nil) }
      guard configuration.isReadable(fileIsReadable) else {
        return (.sbatch, "no slurm.conf at \(configuration.path) (\(configuration.source)), so the job goes through sbatch instead of libslurm")
      }
      return (.libslurm, nil)
    }
  }
}
