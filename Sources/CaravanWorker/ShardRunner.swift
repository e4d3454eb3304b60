import CaravanProcess
import CaravanStorage
import CaravanCore
import CaravanOllama
import Foundation
import Logging

/// Everything one shard does inside the job, in order: GPU telemetry on, servers up (one per GPU
/// with `engine.servers: per-gpu`), Modelfile variants registered and models loaded on each,
/// the requests sent, servers and telemetry off. Each step is written to the shard's timing
/// file, so one file tells where a shard's time went across restarts and requeues.
public struct ShardRunner: Sendable {
  public var run: RunDirectory
  public var shard: Int
  public var spec: JobSpec
  /// The job's environment: Slurm's variables, and what servers inherit.
  public var environment: [String: String]
  /// Send to this server instead of starting any (`caravan worker --url`).
  public var externalURL: String?
  /// Requests in flight per server; the spec's engine.parallel unless overridden.
  public var parallel: Int
  public var pidFile: String?
  public var logger: Logger

  public init(run: RunDirectory, shard: Int, spec: JobSpec, environment: [String: String], externalURL: String?, parallel: Int?, pidFile: String?, logger: Logger) {
    self.run = run
    self.shard = shard
    self.spec = spec
    self.environment = environment
    self.externalURL = externalURL
    self.parallel = parallel ?? spec.engine.parallel
    self.pidFile = pidFile
    self.logger = logger
  }

  public var node: String { environment["SLURMD_NODENAME"] ?? ProcessInfo.processInfo.hostName }
  public var jobID: String? {
    environment["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(environment["SLURM_ARRAY_TASK_ID"] ?? "0")" } ?? environment["SLURM_JOB_ID"]
  }
  public var restartCount: Int { environment["SLURM_RESTART_COUNT"].flatMap { Int($0) } ?? 0 }

  /// The GPUs each server gets: one entry of CUDA_VISIBLE_DEVICES per server with `per-gpu`
  /// and more than one GPU; otherwise one server with all of them (nil: no GPUs set).
  public static func serverGPUs(_ servers: JobSpec.Engine.Servers, cudaVisibleDevices: String?) -> [String?] {
    guard let list = TelemetrySampler.deviceList(cudaVisibleDevices) else { return [nil] }
    return servers == .perGPU ? list : [list.joined(separator: ",")]
  }

  public func run(stop: StopFlag) async throws -> ShardWorker.Outcome {
    var configured = ShardWorker(run: run, shard: shard, parallel: parallel, node: node, jobID: jobID, logger: logger)
    // Set by `caravan resume --retry-errors`; the job inherits it from the submitting process.
    configured.retryErrors = environment["CARAVAN_RETRY_ERRORS"] == "1"
    let worker = configured
    let todo = try worker.pending().todo
    let timing = try openTimingFile()
    var shardEvent = event(.shard)
    // Servers and the sampler run in sessions of their own; the job script stops whatever this
    // file still lists if the worker is killed.
    let pids = pidFile.map(ServerPIDFile.init)

    let telemetry: TelemetrySampler.Started
    if spec.engine.telemetryInterval > 0 {
      let sampler = TelemetrySampler(file: run.layout.telemetryFile(node: node, shard: shard), intervalMs: spec.engine.telemetryInterval, gpuIDs: TelemetrySampler.allocatedGPUs(environment))
      telemetry = await sampler.start(environment: environment)
      if case .running(let pid, _) = telemetry { await pids?.add(pid) }
    } else {
      telemetry = .unavailable("engine.telemetry_interval is 0")
    }
    shardEvent.telemetry = telemetry.summary
    if case .unavailable(let reason) = telemetry { logger.info("GPU telemetry unavailable: \(reason)") }

    var servers: [SupervisedServer] = []
    do {
      let outcome: ShardWorker.Outcome
      if let externalURL {
        outcome = try await worker.run(client: Engines.client(spec.engine.kind, baseURL: externalURL, requestTimeout: .seconds(spec.engine.requestTimeout)), stop: stop)
      } else {
        // Nothing left to send (a requeue after the last record): no servers to start.
        if !todo.isEmpty {
          servers = try makeServers(worker: worker, todo: todo, gpus: telemetry.gpus, timing: timing, pids: pids)
        }
        let started = servers
        outcome = try await Self.supervising(started) {
          let endpoints = started.map { ShardWorker.Endpoint(index: $0.launch.index, client: $0.client, gpu: $0.launch.cudaVisibleDevices, server: $0) }
          return try await worker.run(endpoints: endpoints, stop: stop)
        }
      }
      shardEvent.outcome = outcome.stopped ? "stopped" : "done"
      shardEvent.requestsSent = outcome.written
      shardEvent.firstRequestAt = outcome.firstRequest?.preciseStamp
      shardEvent.lastRequestAt = outcome.lastAnswer?.preciseStamp
      await finish(servers: servers, telemetry: telemetry, pids: pids, timing: timing, event: shardEvent)
      return outcome
    } catch {
      shardEvent.outcome = "failed: \(error)"
      await finish(servers: servers, telemetry: telemetry, pids: pids, timing: timing, event: shardEvent)
      throw error
    }
  }

  /// Runs `body` once every server is ready, with each server's supervision (`run()`) in a
  /// child task for as long as `body` runs; the servers are stopped before this returns.
  static func supervising<T: Sendable>(_ servers: [SupervisedServer], _ body: @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
      for server in servers { group.addTask { try await server.run() } }
      let result: Result<T, any Error>
      do {
        for server in servers { _ = try await server.readyGeneration() }
        result = .success(try await body())
      } catch {
        result = .failure(error)
      }
      for server in servers { await server.stop() }
      // Each run() returns once its server is stopped; one that gave up already told `body`.
      while !group.isEmpty { _ = try? await group.next() }
      return try result.get()
    }
  }

  private func finish(servers: [SupervisedServer], telemetry: TelemetrySampler.Started, pids: ServerPIDFile?, timing: AppendOnlyFile, event: ShardTimingEvent) async {
    for server in servers { await server.stop() }
    await TelemetrySampler.stop(telemetry)
    if case .running(let pid, _) = telemetry { await pids?.remove(pid) }
    var event = event
    event.at = Date().preciseStamp
    try? await timing.append(event)
  }

  private func makeServers(worker: ShardWorker, todo: [WorkItem], gpus: [GPUInfo], timing: AppendOnlyFile, pids: ServerPIDFile?) throws -> [SupervisedServer] {
    let assignment = Self.serverGPUs(spec.engine.servers, cudaVisibleDevices: environment["CUDA_VISIBLE_DEVICES"])
    let tmp = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    let job = environment["SLURM_JOB_ID"] ?? String(getpid())
    return try assignment.enumerated().map { index, devices in
      let launch = SupervisedServer.Launch(
        index: index, script: run.layout.serverScript, port: try freeLoopbackPort(), cudaVisibleDevices: devices,
        home: "\(tmp)/caravan-home-\(job)-\(shard)-\(index)",
        log: run.layout.serverLog(shard: shard, server: assignment.count > 1 ? index : nil),
        runDir: run.path, environment: environment, requestTimeout: .seconds(spec.engine.requestTimeout), engine: spec.engine.kind)
      // With one GPU per server and nvidia-smi's list in the same order, server k has GPU k.
      let serverGPUs = assignment.count > 1 && gpus.count == assignment.count ? [gpus[index]] : gpus
      let base = event(.server)
      return SupervisedServer(
        launch: launch, readyTimeout: .seconds(spec.engine.readyTimeout), maxRestarts: spec.engine.maxRestarts, pids: pids, logger: logger
      ) { started in
        try await worker.registerVariants(on: launch.client, for: todo)
        let loads = try await worker.loadModels(on: launch.client, for: todo)
        var line = base
        line.at = Date().preciseStamp
        line.server = index
        line.serverRestarts = started.restart
        line.cudaVisibleDevices = devices
        line.gpus = serverGPUs
        line.port = launch.port
        line.startedAt = started.startedAt.preciseStamp
        line.readyAt = started.readyAt.preciseStamp
        line.startToReadyMs = started.duration.milliseconds
        line.modelLoadMs = loads
        try await timing.append(line)
        logger.info("server \(index) ready on port \(launch.port) after \(line.startToReadyMs ?? 0) ms (GPUs \(devices ?? "none")); model load \(loads)")
      }
    }
  }

  private func openTimingFile() throws -> AppendOnlyFile {
    try RunFileModes.makeFolders(run.layout.timingDir)
    let path = run.layout.timingFile(shard)
    let intact = try JSONLines.read(ShardTimingEvent.self, from: path).intactBytes
    return try AppendOnlyFile(path: path, intactBytes: intact)
  }

  private func event(_ kind: ShardTimingEvent.Kind) -> ShardTimingEvent {
    ShardTimingEvent(event: kind, shard: shard, node: node, jobId: jobID, restartCount: restartCount, at: Date().preciseStamp)
  }
}

extension Date {
  /// ISO 8601 in UTC with milliseconds, as timing lines use it: `2026-11-29T19:02:14.636Z`.
  var preciseStamp: String { ISO8601Format(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
}
