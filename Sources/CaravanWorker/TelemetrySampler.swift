import CaravanStorage
import CaravanProcess
import CaravanCore
import Foundation

/// Samples the job's GPUs with nvidia-smi for as long as the shard runs. nvidia-smi writes its
/// CSV lines straight to `telemetry/<node>/shard-NNNN.csv` (appended, so a requeued job adds to
/// what an earlier run wrote); `caravan collect` parses them. No nvidia-smi, or one that cannot
/// reach a driver, is not an error: the shard runs, and its timing file says why there is no
/// telemetry.
public struct TelemetrySampler: Sendable {
  public var file: String
  public var intervalMs: Int
  /// GPUs to sample (nvidia-smi `-i`), from the job's allocation; nil samples all.
  public var gpuIDs: [String]?
  /// How long the first question to nvidia-smi may take: on a node with a broken driver it can
  /// hang, and the shard then runs without telemetry rather than not at all.
  public var inventoryTimeout: Duration = .seconds(30)
  /// Runs the sampler under `caravan guard`, so that it stops when the worker dies.
  public var orphanGuard: OrphanGuard.Launcher?

  public init(file: String, intervalMs: Int, gpuIDs: [String]?) {
    self.file = file
    self.intervalMs = intervalMs
    self.gpuIDs = gpuIDs
  }

  /// The GPUs Slurm gave the job: SLURM_JOB_GPUS holds the node's indices, which nvidia-smi
  /// uses; CUDA_VISIBLE_DEVICES is the fallback (the same outside a device cgroup).
  public static func allocatedGPUs(_ environment: [String: String]) -> [String]? {
    ["SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES"].lazy.compactMap { deviceList(environment[$0]) }.first
  }

  /// A Slurm GPU variable as a list: `0,1` gives ["0", "1"]; unset, empty or `NoDevFiles`
  /// (Slurm's value when the job has no GPUs) gives nil.
  static func deviceList(_ value: String?) -> [String]? {
    guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty, value != "NoDevFiles" else { return nil }
    return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
  }

  /// A running sampler, or why there is none.
  public enum Started: Sendable {
    case running(pid: pid_t, gpus: [GPUInfo])
    case unavailable(String)

    /// For the timing file: `ok` or `unavailable: <why>`.
    public var summary: String {
      switch self {
      case .running: return "ok"
      case .unavailable(let reason): return "unavailable: " + reason
      }
    }

    public var gpus: [GPUInfo] {
      if case .running(_, let gpus) = self { return gpus }
      return []
    }
  }

  /// Asks nvidia-smi for the GPUs' names and UUIDs, then starts sampling.
  public func start(environment: [String: String]) async -> Started {
    guard let nvidiaSMI = try? ProcessRunner.path(of: "nvidia-smi", searchPath: environment["PATH"]) else {
      return .unavailable("nvidia-smi is not on PATH")
    }
    let inventory: ProcessRunner.Output
    do {
      inventory = try await ProcessRunner().run(nvidiaSMI, NvidiaSmi.inventoryArguments(ids: gpuIDs), environment: environment, timeout: inventoryTimeout)
    } catch {
      return .unavailable("nvidia-smi could not run: \(error)")
    }
    if inventory.timedOut { return .unavailable("nvidia-smi did not answer within \(inventoryTimeout) and was killed") }
    let gpus = NvidiaSmi.parseInventory(inventory.stdout)
    guard inventory.status == 0, !gpus.isEmpty else {
      let message = (inventory.stdout + inventory.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
      return .unavailable("nvidia-smi exited with status \(inventory.status): \(message.prefix(300))")
    }
    do {
      try RunFileModes.makeFolders((file as NSString).deletingLastPathComponent)
      let fd = RunFileModes.open(file, flags: O_WRONLY | O_APPEND | O_CLOEXEC)
      guard fd >= 0 else { return .unavailable("cannot open \(file): \(String(cString: strerror(errno)))") }
      defer { close(fd) }
      let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
      defer { close(devnull) }
      // In a process group of its own, so that stopping it stops anything it started.
      let command = [nvidiaSMI] + NvidiaSmi.samplerArguments(intervalMs: intervalMs, ids: gpuIDs)
      let pid = try Spawn.start(orphanGuard?.wrap(command) ?? command, environment: environment, stdout: fd, stderr: devnull, newSession: true)
      return .running(pid: pid, gpus: gpus)
    } catch {
      return .unavailable("nvidia-smi could not start: \(error)")
    }
  }

  /// Stops a running sampler's process group: TERM, and KILL if the sampler is still there
  /// after `patience`, so a sampler that does not stop cannot keep the shard from ending.
  public static func stop(_ started: Started, patience: Duration = .seconds(5)) async {
    guard case .running(let pid, _) = started else { return }
    async let reaped = Spawn.wait(pid)
    await Spawn.stopGroup(pid, patience: patience)
    _ = await reaped
  }
}
