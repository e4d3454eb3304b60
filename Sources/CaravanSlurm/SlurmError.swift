import Foundation

/// libslurm refused or failed a request: Slurm's error number, its `slurm_strerror` text, and
/// what to do about it.
public struct SlurmError: Error, LocalizedError, CustomStringConvertible, Sendable, Equatable {
  /// Slurm's errno (`ESLURM_*`, e.g. 2000), or 0 for a failure found before any call.
  public var code: Int32
  /// `slurm_strerror(code)`.
  public var message: String
  /// What was being done, as the user would say it ("submit job e2e").
  public var operation: String
  /// The next step for the user, with the facts it rests on (partitions, node GRES, slurm.conf).
  public var advice: String?

  public init(code: Int32, message: String, operation: String, advice: String? = nil) {
    self.code = code
    self.message = message
    self.operation = operation
    self.advice = advice
  }

  public var description: String {
    let head = code == 0 ? "libslurm could not \(operation): \(message)" : "libslurm could not \(operation): \(message) (Slurm error \(code))"
    return advice.map { head + "\n" + $0 } ?? head
  }

  public var errorDescription: String? { description }

  // Slurm error numbers Caravan gives advice for (slurm/slurm_errno.h).
  public static let invalidPartition: Int32 = 2000
  public static let nodeConfigurationUnavailable: Int32 = 2014
  public static let invalidJobID: Int32 = 2017
  public static let writingScriptOrEnvironment: Int32 = 2019

  /// No slurmctld answered: the connection, send or receive failed (1001-1004, 1800-1803).
  public static func isCommunicationFailure(_ code: Int32) -> Bool {
    (1001...1004).contains(code) || (1800...1803).contains(code)
  }

  /// Munge or the auth plugin refused the request (1007, 6000-6099).
  public static func isAuthenticationFailure(_ code: Int32) -> Bool {
    code == 1007 || (6000...6099).contains(code)
  }

  /// One partition, as the advice lists it.
  public struct Partition: Sendable, Equatable {
    public var name: String
    public var isDefault: Bool
    public init(name: String, isDefault: Bool) {
      self.name = name
      self.isDefault = isDefault
    }
  }

  /// One node, as the advice lists it.
  public struct Node: Sendable, Equatable {
    public var name: String
    public var gres: String?
    public var cpus: Int
    public var memoryMB: UInt64
    public init(name: String, gres: String?, cpus: Int, memoryMB: UInt64) {
      self.name = name
      self.gres = gres
      self.cpus = cpus
      self.memoryMB = memoryMB
    }
  }

  /// Advice for 2000: the partitions that exist.
  public static func partitionAdvice(requested: String?, partitions: [Partition]) -> String {
    let list = partitions.map { $0.isDefault ? "\($0.name) (default)" : $0.name }.joined(separator: ", ")
    let asked = requested.map { "'\($0)' is not a partition of this cluster. " } ?? ""
    if partitions.isEmpty { return asked + "slurmctld lists no partitions you may use; ask your site which partition to use (slurm.partition)." }
    return asked + "The partitions are: \(list). Set slurm.partition to one of them, or leave it out to use the default."
  }

  /// Advice for 2014: what each node offers, against what the job asks for per node.
  public static func resourceAdvice(request: SlurmJobRequest, nodes: [Node]) -> String {
    var asked: [String] = []
    if let gres = request.tresPerNode { asked.append(gres.replacingOccurrences(of: "gres:", with: "")) }
    if let cpus = request.cpusPerTask { asked.append("\(cpus.multipliedSaturating(by: request.tasks ?? 1)) CPUs") }
    if let memory = request.memoryPerNodeMB { asked.append("\(memory) MB") }
    let offered = nodes.map { node in
      "\(node.name): \(node.gres.flatMap { $0.isEmpty || $0 == "(null)" ? nil : $0 } ?? "no GRES"), \(node.cpus) CPUs, \(node.memoryMB) MB"
    }
    var text = "No node can ever run this job"
    if !asked.isEmpty { text += ", which asks for \(asked.joined(separator: ", ")) on one node" }
    text += ". The nodes' GRES and sizes: " + (offered.isEmpty ? "(none listed)" : offered.joined(separator: "; ")) + "."
    text += " Lower slurm.gpus_per_node, slurm.cpus_per_task or slurm.mem to fit a node, or choose another slurm.partition."
    return text
  }

  /// Advice when no controller answers: which slurm.conf libslurm read.
  public static func controllerAdvice(configuration: SlurmConfiguration) -> String {
    "No slurmctld answered. libslurm took the controller's address (SlurmctldHost, SlurmctldPort) from \(configuration.path) "
      + "(\(configuration.source)). Check that file and that slurmctld is running (`scontrol ping`), "
      + "set SLURM_CONF to the right slurm.conf, or submit with `--scheduler sbatch`."
  }

  /// Advice when munge refuses the request.
  public static func authenticationAdvice(configuration: SlurmConfiguration) -> String {
    "slurmctld did not accept this machine's credentials. Check that munged runs here with the cluster's key "
      + "(AuthType/AuthInfo in \(configuration.path), \(configuration.source))."
  }

  /// Advice for 2017 (the job is not, or no longer, known to slurmctld).
  public static let purgedJobAdvice =
    "slurmctld forgets finished jobs MinJobAge seconds after they end (300 by default); the run directory still holds their records."
}

/// Where libslurm reads slurm.conf: `$SLURM_CONF`, else `/etc/slurm/slurm.conf`.
public struct SlurmConfiguration: Sendable, Equatable {
  public static let defaultPath = "/etc/slurm/slurm.conf"
  /// The file libslurm will read.
  public var path: String
  /// Why that file: "from SLURM_CONF" or "the default; SLURM_CONF is not set".
  public var source: String

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    if let value = environment["SLURM_CONF"], !value.isEmpty {
      path = value
      source = "from SLURM_CONF"
    } else {
      path = Self.defaultPath
      source = "the default; SLURM_CONF is not set"
    }
  }

  /// True when that file exists and can be read.
  public func isReadable(_ fileIsReadable: (String) -> Bool = { FileManager.default.isReadableFile(atPath: $0) }) -> Bool {
    fileIsReadable(path)
  }

  /// The error for a missing slurm.conf: libslurm is not even started without one, because
  /// `slurm_init` exits the whole process when it cannot load its configuration.
  public var missingError: SlurmError {
    SlurmError(
      code: 0, message: "no slurm.conf at \(path) (\(source))", operation: "start",
      advice: "Set SLURM_CONF to the cluster's slurm.conf, or submit with `--scheduler sbatch` (which also works on configless clusters).")
  }
}
