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
  /// `caravan worker --parallel`, which turns `parallel: auto` off.
  var parallelOverride: Int?
  public var pidFile: String?
  /// This task run's private node-local folder (the job script's `mktemp -d`, removed when the
  /// task ends): the servers' HOMEs go here. Nil: the worker makes one under TMPDIR and removes
  /// it when it returns.
  public var taskDir: String?
  /// Runs each server (and the GPU sampler) under `caravan guard`, so it dies with the worker.
  public var orphanGuard: OrphanGuard.Launcher?
  public var logger: Logger

  public init(
    run: RunDirectory, shard: Int, spec: JobSpec, environment: [String: String], externalURL: String?, parallel: Int?, pidFile: String?,
    taskDir: String? = nil, orphanGuard: OrphanGuard.Launcher? = nil, logger: Logger
  ) {
    self.run = run
    self.shard = shard
    self.spec = spec
    self.environment = environment
    self.externalURL = externalURL
    self.parallel = parallel ?? spec.engine.parallel
    self.parallelOverride = parallel
    self.pidFile = pidFile
    self.taskDir = taskDir
    self.orphanGuard = orphanGuard
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
    // Run by hand, not by the job script: a private folder of its own.
    let taskDir = try self.taskDir ?? Self.makeTaskDir(under: environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp", shard: shard)
    // Removed here, once the servers and the sampler are stopped (every path out of the run
    // below stops them), and not only by the job script's EXIT trap: a worker that requeues its
    // own job has Slurm kill the script, often before its trap has run.
    defer { try? FileManager.default.removeItem(atPath: taskDir) }
    return try await run(stop: stop, taskDir: taskDir)
  }

  /// A new private folder (mode 0700) under `parent`, named for the shard but unique.
  static func makeTaskDir(under parent: String, shard: Int) throws -> String {
    var template = Array("\(parent)/caravan-worker-\(shard).XXXXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
      throw WorkerError.fatal("cannot make a folder under \(parent) (TMPDIR): \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
  }

  private func run(stop: StopFlag, taskDir: String) async throws -> ShardWorker.Outcome {
    var configured = ShardWorker(run: run, shard: shard, parallel: parallel, node: node, jobID: jobID, logger: logger)
    // Set by `caravan resume --retry-errors`; the job inherits it from the submitting process.
    configured.retryErrors = environment["CARAVAN_RETRY_ERRORS"] == "1"
    configured.embedBatch = spec.task == .embed ? spec.engine.embedBatch : nil
    // `parallel: auto` (unless `--parallel` fixed the count): one ramp for the task's servers.
    let ramp = spec.engine.parallelAuto && parallelOverride == nil
      ? ParallelController(ParallelRamp(ceiling: spec.engine.serverSlots, servers: externalURL == nil ? Self.serverGPUs(spec.engine.servers, cudaVisibleDevices: environment["CUDA_VISIBLE_DEVICES"]).count : 1))
      : nil
    configured.ramp = ramp
    let worker = configured
    // Static: this task's shard. Dynamic: the chunks it claims once its servers answer; a task
    // that finds nothing left to claim as it starts starts no server and frees its GPUs at once.
    let work: Work
    let manifest = try run.manifest()
    if manifest.distribution == .dynamic {
      let claims = ChunkClaims(
        layout: run.layout, chunks: manifest.shards.count, holder: (jobID ?? "local") + "#\(shard)", task: shard, node: node,
        timeout: .seconds(spec.slurm.claimTimeout))
      let open = try claims.hasWork()
      if !open { logger.info("task \(shard): no chunk left to claim; nothing to start") }
      work = .dynamic(claims, variants: open ? Set(manifest.variants.map(\.name)) : [], models: open ? Set(manifest.variants.map(\.model)) : [])
    } else {
      let todo = try worker.pending().todo
      work = .shard(variants: Set(todo.map(\.variant)), models: Set(todo.map(\.model)))
    }
    let timing = try openTimingFile()
    var shardEvent = event(.shard)
    // Servers and the sampler run in sessions of their own; the job script stops whatever this
    // file still lists if the worker is killed.
    let pids = pidFile.map(ServerPIDFile.init)

    let telemetry: TelemetrySampler.Started
    if spec.engine.telemetryInterval > 0, work.hasWork {
      var sampler = TelemetrySampler(file: run.layout.telemetryFile(node: node, shard: shard), intervalMs: spec.engine.telemetryInterval, gpuIDs: TelemetrySampler.allocatedGPUs(environment))
      sampler.orphanGuard = orphanGuard
      telemetry = await sampler.start(environment: environment)
      if case .running(let pid, _) = telemetry { await pids?.add(pid) }
    } else {
      telemetry = .unavailable(work.hasWork ? "engine.telemetry_interval is 0" : "no work left for this task")
    }
    shardEvent.telemetry = telemetry.summary
    if case .unavailable(let reason) = telemetry { logger.info("GPU telemetry unavailable: \(reason)") }

    var servers: [SupervisedServer] = []
    var tally = ClaimTally()
    do {
      let outcome: ShardWorker.Outcome
      if let externalURL {
        let client = Engines.client(spec.engine.kind, baseURL: externalURL, requestTimeout: .seconds(spec.engine.requestTimeout))
        if case .shard = work {
          outcome = try await worker.run(client: client, stop: stop)
        } else {
          if work.hasWork {
            try await worker.registerVariants(on: client, named: work.variants)
            _ = try await worker.loadModels(on: client, models: work.models)
          }
          outcome = try await send(work, worker: worker, endpoints: [ShardWorker.Endpoint(index: 0, client: client, gpu: nil, server: nil)], stop: stop, tally: &tally)
        }
      } else {
        // Nothing left to send (a requeue after the last record): no servers to start.
        if work.hasWork {
          servers = try makeServers(worker: worker, work: work, gpus: telemetry.gpus, timing: timing, pids: pids, taskDir: taskDir, stop: stop)
        }
        let started = servers
        let result = try await Self.supervising(started) {
          let endpoints = started.map { ShardWorker.Endpoint(index: $0.launch.index, client: $0.launch.client(port: $0.launch.port), gpu: $0.launch.cudaVisibleDevices, server: $0) }
          var tally = ClaimTally()
          let outcome = try await self.send(work, worker: worker, endpoints: endpoints, stop: stop, tally: &tally)
          return (outcome, tally)
        }
        outcome = result.0
        tally = result.1
      }
      shardEvent.outcome = outcome.stopped ? "stopped" : "done"
      shardEvent.requestsSent = outcome.written
      shardEvent.firstRequestAt = outcome.firstRequest?.preciseStamp
      shardEvent.lastRequestAt = outcome.lastAnswer?.preciseStamp
      tally.record(into: &shardEvent, work: work)
      if let ramp = ramp?.snapshot, !ramp.trials.isEmpty || ramp.settled {
        shardEvent.parallelChosen = ramp.chosen
        shardEvent.parallelTrials = ramp.trials
        logger.info("engine.parallel auto: \(ramp.chosen) per server (tried \(ramp.trials.map { "\($0.parallel): \(Int($0.rate.rounded()))/s" }.joined(separator: ", ")))")
      }
      await finish(servers: servers, telemetry: telemetry, pids: pids, timing: timing, event: shardEvent)
      return outcome
    } catch where stop.isSet && Self.endsWithTheJob(error) {
      // TERM came while the servers were starting, or they stopped with the job: nothing is
      // lost; the next run starts them again and sends what has no record.
      logger.notice("shard \(shard): stopped after TERM before the work was done (\(error))")
      shardEvent.outcome = "stopped"
      tally.record(into: &shardEvent, work: work)
      await finish(servers: servers, telemetry: telemetry, pids: pids, timing: timing, event: shardEvent)
      guard case .shard = work else { return ShardWorker.Outcome(alreadyDone: 0, written: 0, errors: 0, stopped: true) }
      let pending = try? worker.pending()
      let done = (pending?.items.count ?? 0) - (pending?.todo.count ?? 0)
      return ShardWorker.Outcome(alreadyDone: done, written: 0, errors: 0, stopped: pending?.todo.isEmpty != true)
    } catch {
      shardEvent.outcome = "failed: \(error)"
      tally.record(into: &shardEvent, work: work)
      await finish(servers: servers, telemetry: telemetry, pids: pids, timing: timing, event: shardEvent)
      throw error
    }
  }

  /// Whether a failure during a drain is the job stopping (a server that stopped with it, a
  /// start cut short) rather than a problem to report: a missing model is still reported.
  static func endsWithTheJob(_ error: any Error) -> Bool {
    if case WorkerError.missingModel = error { return false }
    return error is WorkerError || error is ReadinessError
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

  private func makeServers(
    worker: ShardWorker, work: Work, gpus: [GPUInfo], timing: AppendOnlyFile, pids: ServerPIDFile?, taskDir: String, stop: StopFlag
  ) throws -> [SupervisedServer] {
    let assignment = Self.serverGPUs(spec.engine.servers, cudaVisibleDevices: environment["CUDA_VISIBLE_DEVICES"])
    return try assignment.enumerated().map { index, devices in
      let launch = SupervisedServer.Launch(
        index: index, script: run.layout.serverScript, port: try freeLoopbackPort(), cudaVisibleDevices: devices,
        home: "\(taskDir)/home-\(index)",
        log: run.layout.serverLog(shard: shard, server: assignment.count > 1 ? index : nil),
        runDir: run.path, environment: environment, requestTimeout: .seconds(spec.engine.requestTimeout), engine: spec.engine.kind,
        orphanGuard: orphanGuard)
      // With one GPU per server and nvidia-smi's list in the same order, server k has GPU k.
      let serverGPUs = assignment.count > 1 && gpus.count == assignment.count ? [gpus[index]] : gpus
      let base = event(.server)
      return SupervisedServer(
        launch: launch, readyTimeout: .seconds(spec.engine.readyTimeout), maxRestarts: spec.engine.maxRestarts, pids: pids, draining: stop, logger: logger
      ) { started in
        try await worker.registerVariants(on: started.client, named: work.variants)
        let loads = try await worker.loadModels(on: started.client, models: work.models)
        var line = base
        line.at = Date().preciseStamp
        line.server = index
        line.serverRestarts = started.restart
        line.cudaVisibleDevices = devices
        line.gpus = serverGPUs
        line.port = started.port
        line.startedAt = started.startedAt.preciseStamp
        line.readyAt = started.readyAt.preciseStamp
        line.startToReadyMs = started.duration.milliseconds
        line.modelLoadMs = loads
        try await timing.append(line)
        logger.info("server \(index) ready on port \(started.port) after \(line.startToReadyMs ?? 0) ms (GPUs \(devices ?? "none")); model load \(loads)")
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
