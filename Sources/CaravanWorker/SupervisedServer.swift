import CaravanStorage
import CaravanCore
import CaravanProcess
import CaravanOllama
import Foundation
import Logging

/// One inference server of a shard, owned by the worker: started from the run's `server.sh` in a
/// session of its own (under `caravan guard`, so that it dies with the worker), watched, and
/// restarted (a bounded number of times) when it dies, except while the worker drains after a TERM.
///
/// Requests that fail ask `recover(after:)` whether a crash explains the failure; if so they
/// wait for the restarted server and are sent again, without counting against their retries.
public actor SupervisedServer {
  /// How to start this server.
  public struct Launch: Sendable {
    /// Which of the shard's servers (0 ..< count).
    public var index: Int
    public var script: String
    /// The first port tried; a start finds another when something else listens there by then.
    public var port: Int
    /// The GPU(s) this server may use, from Slurm's allocation; nil leaves the variable unset.
    public var cudaVisibleDevices: String?
    public var home: String
    public var log: String
    public var runDir: String
    /// The worker's environment, which the server inherits (setup lines, PATH, module settings).
    public var environment: [String: String]
    /// Longest one request to this server may take (`engine.request_timeout`).
    public var requestTimeout: Duration
    /// The API the server speaks.
    public var engine: JobSpec.Engine.Kind
    /// Runs `server.sh` under `caravan guard`, which stops the server's process group when the
    /// worker dies (even by SIGKILL); nil runs it directly (tests with a stand-in script).
    public var orphanGuard: OrphanGuard.Launcher?

    public init(
      index: Int, script: String, port: Int, cudaVisibleDevices: String?, home: String, log: String, runDir: String, environment: [String: String],
      requestTimeout: Duration, engine: JobSpec.Engine.Kind, orphanGuard: OrphanGuard.Launcher? = nil
    ) {
      self.index = index
      self.script = script
      self.port = port
      self.cudaVisibleDevices = cudaVisibleDevices
      self.home = home
      self.log = log
      self.runDir = runDir
      self.environment = environment
      self.requestTimeout = requestTimeout
      self.engine = engine
      self.orphanGuard = orphanGuard
    }

    /// A client for a loopback port.
    func client(port: Int) -> any InferenceEngine { Engines.client(engine, baseURL: "http://127.0.0.1:\(port)", requestTimeout: requestTimeout) }

    func processEnvironment(port: Int) -> [String: String] {
      var env = environment
      env["PORT"] = String(port)
      env["OLLAMA_HOST"] = "127.0.0.1:\(port)"
      env["SERVER_HOME"] = home
      env["RUN_DIR"] = runDir
      env["CUDA_VISIBLE_DEVICES"] = cudaVisibleDevices
      return env
    }
  }

  /// When a start (first or restart) began and when the server answered.
  public struct Started: Sendable {
    public var startedAt: Date
    public var readyAt: Date
    public var duration: Duration
    /// 0 for the first start, n for the n-th restart.
    public var restart: Int
    /// The port it listens on, and a client for it.
    public var port: Int
    public var client: any InferenceEngine
  }

  enum Phase: Equatable {
    case idle, starting, ready, stopping
    case failed(String)
  }

  public nonisolated let launch: Launch
  /// The server's port now, and a client for it: a start moves to another port when something
  /// else listens on this one.
  public private(set) var port: Int
  public private(set) var client: any InferenceEngine
  let readyTimeout: Duration
  let maxRestarts: Int
  let logger: Logger
  let pids: ServerPIDFile?
  /// Set when the worker got TERM: a server that dies then is not restarted (see `exited`).
  let draining: StopFlag?
  /// Runs after every start, before requests are let through: registers Modelfile variants
  /// (again after a crash) and records timing.
  let onReady: @Sendable (Started) async throws -> Void

  private var phase = Phase.idle
  private var pid: pid_t?
  /// Bumped each time the server becomes ready; a request remembers the one it was sent to.
  public private(set) var generation = 0
  public private(set) var restarts = 0
  private var waiters: [CheckedContinuation<Void, any Error>] = []

  public init(
    launch: Launch, readyTimeout: Duration, maxRestarts: Int, pids: ServerPIDFile?, draining: StopFlag? = nil, logger: Logger,
    onReady: @escaping @Sendable (Started) async throws -> Void
  ) {
    self.launch = launch
    self.port = launch.port
    self.client = launch.client(port: launch.port)
    self.draining = draining
    self.readyTimeout = readyTimeout
    self.maxRestarts = maxRestarts
    self.pids = pids
    self.logger = logger
    self.onReady = onReady
  }

  /// Starts the server and keeps it up until `stop()`: a server that dies is started again,
  /// within `maxRestarts`. Returns once the server was stopped; throws when it cannot be brought
  /// (back) up. The shard runs this in its task group for as long as it sends requests, so no
  /// supervision outlives the shard.
  public func run() async throws {
    if case .idle = phase { phase = .starting }
    try await startUntilReady(restarting: false)
    while let pid {
      let status = await Spawn.wait(pid)
      guard await exited(pid, status: status) else { return }
      try await startUntilReady(restarting: true)
    }
  }

  /// The generation to send to, once the server is ready: a request dispatched while the
  /// server restarts waits here, rather than reaching it before its variants are registered.
  public func readyGeneration() async throws -> Int {
    try await readyClient().generation
  }

  /// The generation and the client to send to, once the server is ready.
  public func readyClient() async throws -> (generation: Int, client: any InferenceEngine) {
    switch phase {
    case .ready: return (generation, client)
    case .idle, .starting:
      try await untilReady()
      return (generation, client)
    case .failed(let reason): throw WorkerError.fatal(reason)
    case .stopping: throw WorkerError.fatal("server \(launch.index) was stopped")
    }
  }

  /// Asked by a request that failed with a transport or stream error on `generation`.
  /// Returns true when the server died (it has been restarted by the time this returns, so the
  /// request should be sent again), false when it is up and the failure was the request's own.
  /// Throws when the server cannot be brought back.
  public func recover(after generation: Int) async throws -> Bool {
    if self.generation > generation { return true }
    switch phase {
    case .failed(let reason): throw WorkerError.fatal(reason)
    case .idle, .stopping: throw WorkerError.fatal("server \(launch.index) was stopped")
    case .starting:
      try await untilReady()
      return true
    case .ready:
      if let pid, processIsAlive(pid) { return false }
      // Dead, and `run()` has not reaped it yet: it will, and start it again.
      try await untilReady()
      return true
    }
  }

  /// Stops the server: TERM to its process group, KILL after `patience`.
  public func stop(patience: Duration = .seconds(10)) async {
    phase = .stopping
    fail(waitersWith: WorkerError.fatal("server \(launch.index) was stopped"))
    guard let pid else { return }
    self.pid = nil
    await Spawn.stopGroup(pid, patience: patience)  // `run()` reaps it
    await pids?.remove(pid)
  }

  // MARK: - Starting and restarting

  /// Why one start failed, and whether the process was dead by then (worth a restart) or
  /// alive (a timeout, or a failure a restart would repeat, such as a missing model).
  struct StartFailure: Error {
    var error: any Error
    var died: Bool
    /// Another process answered on the port: start again on a new one, not counted as a restart.
    var portTaken = false
  }

  /// Bounds the new ports one start may try when others keep taking them.
  static let portAttempts = 5

  /// Starts until the server is ready; each start after a death counts against `maxRestarts`.
  private func startUntilReady(restarting: Bool) async throws {
    var restarting = restarting
    var last: (any Error)?
    var portsTried = 0
    while true {
      if draining?.isSet == true {
        throw stopForDrain("server \(launch.index) was not restarted: the worker is stopping (TERM)")
      }
      if restarting {
        restarts += 1
        guard restarts <= maxRestarts else {
          let reason = "server \(launch.index) died \(restarts) times (engine.max_restarts is \(maxRestarts)); see \(launch.log)"
          throw giveUp(WorkerError.fatal(reason + (last.map { ". Last failure: \($0)" } ?? "")))
        }
        logger.notice("restarting server \(launch.index) (restart \(restarts) of at most \(maxRestarts))")
      }
      do {
        try await startOnce()
        return
      } catch let failure as StartFailure {
        if case .stopping = phase { throw failure.error }
        if failure.portTaken {
          portsTried += 1
          guard portsTried < Self.portAttempts else { throw giveUp(failure.error) }
          logger.warning("server \(launch.index): \(failure.error); starting it again on another port")
          continue
        }
        guard failure.died else { throw giveUp(failure.error) }
        logger.warning("server \(launch.index) died while starting: \(failure.error)")
        last = failure.error
        restarting = true
      }
    }
  }

  /// Ends supervision during a drain: waiting requests are told the server stopped, and leave
  /// their items to the next run.
  private func stopForDrain(_ reason: String) -> any Error {
    phase = .stopping
    let error = WorkerError.fatal(reason)
    fail(waitersWith: error)
    return error
  }

  private func giveUp(_ error: any Error) -> any Error {
    phase = .failed("\(error)")
    fail(waitersWith: error)
    return error
  }

  private func startOnce() async throws {
    let startedAt = Date()
    let clock = ContinuousClock.now
    // freeLoopbackPort's port was free when chosen; another job on the node may have taken it
    // since (it picks ports the same way), or taken it while this server was down.
    if ProcessTable.listeningSocket(port: port) != nil {
      do { try movePort() } catch { throw StartFailure(error: error, died: false) }
    }
    let pid: pid_t
    do { pid = try spawn() } catch { throw StartFailure(error: error, died: false) }
    self.pid = pid
    await pids?.add(pid)
    do {
      try await Readiness(client: client, serverPID: pid, logPath: launch.log, timeout: readyTimeout).wait()
      // An answer proves only that *a* server listens there: if another job's server got the
      // port first, this one is failing to bind, and requests must not go to the other.
      if ProcessTable.owner(ofPort: port, root: pid) == .someoneElse {
        let taken = WorkerError.fatal("port \(port) is held by a process that is not this server's (another job on the node?)")
        try? movePort()
        throw StartFailure(error: taken, died: true, portTaken: true)
      }
      let started = Started(startedAt: startedAt, readyAt: Date(), duration: ContinuousClock.now - clock, restart: restarts, port: port, client: client)
      try await onReady(started)
    } catch {
      if let failure = error as? StartFailure {
        kill(-pid, SIGKILL)
        _ = await Spawn.wait(pid)
        await pids?.remove(pid)
        if self.pid == pid { self.pid = nil }
        throw failure
      }
      let died = !processIsAlive(pid)
      kill(-pid, SIGKILL)
      kill(pid, SIGKILL)
      _ = await Spawn.wait(pid)
      await pids?.remove(pid)
      if self.pid == pid { self.pid = nil }
      // Died before it answered while something else listens on its port: another job (or
      // another server of this node) took the port between its choice and the bind, and this
      // one could not bind. Not a crash: start again on a new port.
      if died, ProcessTable.listeningSocket(port: port) != nil {
        let taken = WorkerError.fatal("port \(port) was taken by another process before the server could listen on it (\(error))")
        try? movePort()
        throw StartFailure(error: taken, died: true, portTaken: true)
      }
      throw StartFailure(error: error, died: died)
    }
    guard phase == .starting, self.pid == pid else { return }
    generation += 1
    phase = .ready
    let ready = waiters
    waiters = []
    ready.forEach { $0.resume() }
  }

  /// Takes a new free port (and a client for it) for the next start.
  private func movePort() throws {
    port = try freeLoopbackPort()
    client = launch.client(port: port)
  }

  private func spawn() throws -> pid_t {
    let fd = RunFileModes.open(launch.log, flags: O_WRONLY | O_APPEND | O_CLOEXEC)
    guard fd >= 0 else { throw WorkerError.fatal("cannot open the server log \(launch.log): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    try FileManager.default.createDirectory(atPath: launch.home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let banner = "caravan: starting server \(launch.index) on 127.0.0.1:\(port), HOME=\(launch.home), CUDA_VISIBLE_DEVICES=\(launch.cudaVisibleDevices ?? "(unset)"), restart \(restarts), \(Date().ISO8601Format())\n"
    _ = banner.withCString { write(fd, $0, strlen($0)) }
    let command = ["/bin/bash", launch.script]
    return try Spawn.start(launch.orphanGuard?.wrap(command) ?? command, environment: launch.processEnvironment(port: port), stdout: fd, stderr: fd, newSession: true)
  }

  /// The process `pid` exited (`run()` reaped it). Returns true when it crashed and must be
  /// started again; false when it was stopped on purpose, or died while the worker drains.
  private func exited(_ pid: pid_t, status: Int32) async -> Bool {
    guard self.pid == pid, phase == .ready else { return false }
    self.pid = nil
    // Whatever the server left behind in its process group (its guard does this too). `pid` is
    // reaped: only a group that still has members is certainly the server's.
    if kill(-pid, 0) == 0 { kill(-pid, SIGKILL) }
    await pids?.remove(pid)
    if await drainHasBegun() {
      // A requeue, or scancel without -b, sends TERM to every process of the job: the server
      // stops with the worker. Expected, so no restart (none of engine.max_restarts is spent);
      // the requests in flight on it are left to the next run, without a record.
      logger.notice("server \(launch.index) (pid \(pid)) exited (status \(status)) while the worker stops after TERM; not restarted")
      _ = stopForDrain("server \(launch.index) stopped with the job (TERM)")
      return false
    }
    guard self.pid == nil, phase == .ready else { return false }  // stopped meanwhile
    logger.warning("server \(launch.index) (pid \(pid)) died (exit status \(status)); see \(launch.log)")
    phase = .starting
    return true
  }

  /// Whether the worker is draining. TERM reaches the server and the worker at the same moment,
  /// and the server may be reaped before the worker's signal handler has run: a death is
  /// judged after a second's pause (a restart takes longer than that anyway).
  private func drainHasBegun() async -> Bool {
    guard let draining else { return false }
    if draining.isSet { return true }
    try? await Task.sleep(for: .seconds(1))
    return draining.isSet
  }

  private func untilReady() async throws {
    try await withCheckedThrowingContinuation { waiters.append($0) }
  }

  private func fail(waitersWith error: any Error) {
    let failed = waiters
    waiters = []
    failed.forEach { $0.resume(throwing: error) }
  }
}

/// The file the job script reads on exit to stop servers (and the GPU sampler) the worker could
/// not stop because it was killed: one `<pid> <start time>` line per process group (see
/// `OwnedProcessGroups`, which proves a group is the task's own before signalling it).
public actor ServerPIDFile {
  public let path: String
  private var groups = OwnedProcessGroups(entries: [])

  public init(path: String) { self.path = path }

  func add(_ pid: pid_t) {
    groups.entries.append(.init(pid: pid, startTime: ProcessTable.status(pid)?.startTime))
    save()
  }

  func remove(_ pid: pid_t) {
    groups.entries.removeAll { $0.pid == pid }
    save()
  }

  private func save() {
    try? groups.text.write(toFile: path, atomically: true, encoding: .utf8)
  }
}
