import CaravanStorage
import CaravanRun
import CaravanCore
import CaravanProcess
import CaravanTestSupport
import Foundation
import Logging
import Testing

@testable import CaravanWorker

/// The worker owning its servers: one per GPU, restarted after a crash, telemetry and timing
/// written beside the results. Runs the real simulator through the run's server.sh.
@Suite struct SupervisionTests {
  /// A run whose server is the simulator, started by server.sh with runtime none.
  func prepare(_ name: String, prompts: Int, tokenMs: Int = 5, parallel: Int = 2, extra: String = "") throws -> RunPreparer.Prepared {
    let sim = try TestPaths.binary("ollama-sim")
    let spec = """
      name: \(name)
      model: gemma:7b
      prompts: prompts.jsonl
      repeats: 2
      engine:
        kind: sim
        parallel: \(parallel)
        ready_timeout: 60
        telemetry_interval: 100
        command: exec '\(sim)' --models gemma:7b --token-ms \(tokenMs) --request-log "$RUN_DIR/requests-$PORT.jsonl"
      \(extra)
      variants:
        - name: plain
        - name: mf
          modelfile: |
            FROM gemma:7b
            PARAMETER temperature 0.2
      container: {runtime: none}
      """
    let lines = (1...prompts).map { #"{"id": "p\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n") + "\n"
    return try prepareRun(spec: spec, prompts: lines)
  }

  func runner(_ prepared: RunPreparer.Prepared, environment: [String: String]) -> ShardRunner {
    var env = ProcessInfo.processInfo.environment
    env["PATH"] = TestPaths.fixtures.appendingPathComponent("bin").path + ":/usr/bin:/bin"
    env["TMPDIR"] = prepared.run.path
    env["SLURMD_NODENAME"] = "gpunode"
    env.merge(environment) { $1 }
    return ShardRunner(run: prepared.run, shard: 0, spec: prepared.spec, environment: env, externalURL: nil, parallel: nil, pidFile: prepared.run.path + "/servers.pid", logger: Logger(label: "test"))
  }

  func timing(_ run: RunDirectory) throws -> [ShardTimingEvent] {
    try JSONLines.read(ShardTimingEvent.self, from: run.layout.timingFile(0)).values
  }

  /// Pids of simulators serving this run (their request logs live in the run directory).
  func simulators(_ run: RunDirectory) async throws -> [Int32] {
    try await runCommand("/usr/bin/pgrep", ["-f", "ollama-sim.*\(run.path)"]).stdout.split(separator: "\n").compactMap { Int32($0) }
  }

  @Test func onePerGPUServersShareTheWorkAndRecordTimingAndTelemetry() async throws {
    let prepared = try prepare("pergpu", prompts: 12)
    let outcome = try await runner(prepared, environment: ["CUDA_VISIBLE_DEVICES": "0,1", "SLURM_JOB_GPUS": "0,1"]).run(stop: StopFlag())
    #expect(outcome.written == 48 && outcome.errors == 0)

    let records = try prepared.run.results(0)
    #expect(Set(records.map(\.key)).count == 48)
    // Each server got its own GPU and a share of the work.
    #expect(Set(records.compactMap(\.server)) == [0, 1])
    #expect(Set(records.compactMap(\.gpu)) == ["0", "1"])
    for gpu in ["0", "1"] { #expect(records.filter { $0.gpu == gpu }.count >= 8, "GPU \(gpu) did too little") }
    #expect(records.allSatisfy { $0.queueMs != nil && $0.ttftMs != nil })

    let events = try timing(prepared.run)
    let servers = events.filter { $0.event == .server }
    #expect(servers.map(\.server) == [0, 1] || servers.map(\.server) == [1, 0])
    for line in servers {
      #expect(line.node == "gpunode")
      #expect(line.cudaVisibleDevices == String(line.server!))
      #expect(line.gpus?.map(\.index) == [line.server!], "server k sees GPU k")
      #expect(line.gpus?.first?.name == "NVIDIA H200")
      #expect((line.startToReadyMs ?? -1) >= 0)
      #expect(line.modelLoadMs?.keys.sorted() == ["caravan-pergpu-mf", "gemma:7b"])
    }
    let shard = try #require(events.last)
    #expect(shard.event == .shard && shard.outcome == "done" && shard.telemetry == "ok" && shard.requestsSent == 48)
    #expect(shard.firstRequestAt != nil && shard.lastRequestAt != nil)

    // Each server was started with its own port and GPU: one request log per port, and the
    // Modelfile variant registered on both.
    let logs = try FileManager.default.contentsOfDirectory(atPath: prepared.run.path).filter { $0.hasPrefix("requests-") }
    #expect(logs.count == 2)
    for log in logs {
      let text = try String(contentsOfFile: prepared.run.path + "/" + log, encoding: .utf8)
      #expect(text.contains(#"api\/create"#))
    }
    // nvidia-smi samples for the job's GPUs, parsed as collect will.
    let csv = try String(contentsOfFile: prepared.run.layout.telemetryFile(node: "gpunode", shard: 0), encoding: .utf8)
    let samples = csv.split(separator: "\n").compactMap { GPUSample.parse($0, timeZone: .current) }
    #expect(!samples.isEmpty && Set(samples.map(\.index)).isSubset(of: [0, 1]))
    // Servers are gone, and so is the pid list.
    #expect(try await simulators(prepared.run).isEmpty)
    #expect((try? String(contentsOfFile: prepared.run.path + "/servers.pid", encoding: .utf8)) ?? "" == "")
  }

  @Test func serversOneKeepsAllGPUsOnOneServer() async throws {
    let prepared = try prepare("onesrv", prompts: 3, extra: "  servers: one")
    _ = try await runner(prepared, environment: ["CUDA_VISIBLE_DEVICES": "0,1"]).run(stop: StopFlag())
    let records = try prepared.run.results(0)
    #expect(records.count == 12 && Set(records.compactMap(\.gpu)) == ["0,1"])
  }

  @Test func killedServerIsRestartedAndNoItemIsLostOrRepeated() async throws {
    let prepared = try prepare("restart", prompts: 20, tokenMs: 10)
    let task = Task { try await runner(prepared, environment: ["CUDA_VISIBLE_DEVICES": "3"]).run(stop: StopFlag()) }
    // Kill the server once requests are flowing.
    while try prepared.run.results(0).count < 5 { try await Task.sleep(for: .milliseconds(50)) }
    let before = try await simulators(prepared.run)
    #expect(before.count == 1)
    kill(before[0], SIGKILL)
    let outcome = try await task.value
    #expect(outcome.errors == 0)
    let records = try prepared.run.results(0)
    #expect(records.count == 80 && Set(records.map(\.key)).count == 80)
    #expect(records.allSatisfy { $0.status == .ok })
    let restarts = try timing(prepared.run).filter { $0.event == .server }.map(\.serverRestarts)
    #expect(restarts == [0, 1])
    let log = try String(contentsOfFile: prepared.run.layout.serverLog(shard: 0, server: nil), encoding: .utf8)
    #expect(log.components(separatedBy: "caravan: starting server 0").count == 3, "two starts in the server log")
  }

  /// A requeue or scancel without -b sends TERM to every process of the job: the server may
  /// die while the worker drains. That is no crash: no restart (max_restarts 0 would fail the
  /// shard), no error record; the items in flight are left, and the next run sends them once.
  @Test func aServerThatDiesDuringTheDrainIsNotRestartedAndItsItemsAreLeft() async throws {
    let prepared = try prepare("drain", prompts: 8, tokenMs: 40, extra: "  max_restarts: 0")
    let stop = StopFlag()
    let task = Task { try await runner(prepared, environment: [:]).run(stop: stop) }
    while try prepared.run.results(0).count < 4 { try await Task.sleep(for: .milliseconds(50)) }
    let servers = try await simulators(prepared.run)
    #expect(servers.count == 1)
    stop.set()
    for server in servers { kill(server, SIGKILL) }
    let outcome = try await task.value
    #expect(outcome.stopped && outcome.errors == 0)
    let first = try prepared.run.results(0)
    #expect(first.allSatisfy { $0.status == .ok } && first.count < 32)
    let servers0 = try timing(prepared.run).filter { $0.event == .server }
    #expect(servers0.map(\.serverRestarts) == [0], "no restart during the drain")
    #expect(try timing(prepared.run).last?.outcome == "stopped")

    let second = try await runner(prepared, environment: [:]).run(stop: StopFlag())
    #expect(!second.stopped && second.errors == 0 && second.written == 32 - first.count)
    let records = try prepared.run.results(0)
    #expect(records.count == 32 && Set(records.map(\.key)).count == 32)
  }

  @Test func aServerThatKeepsDyingFailsTheShardAfterMaxRestarts() async throws {
    let prepared = try prepare("dying", prompts: 30, tokenMs: 200, extra: "  max_restarts: 1")
    let finished = StopFlag()
    let runner = runner(prepared, environment: [:])
    let task = Task {
      defer { finished.set() }
      return try await runner.run(stop: StopFlag())
    }
    // Every server it starts is killed, until the worker gives up. Under the full suite's load
    // a server killed before it answered may count as one that lost its port to another
    // test's server, which is started again without spending a restart (CI once saw the
    // third server live on when only two were killed).
    var killed: Set<Int32> = []
    while killed.count < 20, !finished.isSet {
      for pid in try await simulators(prepared.run) where !killed.contains(pid) {
        try await Task.sleep(for: .milliseconds(300))
        kill(pid, SIGKILL)
        killed.insert(pid)
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    let error = await #expect(throws: WorkerError.self) { try await task.value }
    #expect(error?.description.contains("max_restarts is 1") == true, "\(error?.description ?? "")")
    // What was recorded stays, once each; the shard line says why it ended.
    let records = try prepared.run.results(0)
    #expect(Set(records.map(\.key)).count == records.count)
    #expect(try timing(prepared.run).last?.outcome?.hasPrefix("failed") == true)
  }

  @Test func noNvidiaSMIMeansTelemetryUnavailableNotAnError() async throws {
    let prepared = try prepare("nosmi", prompts: 2)
    let outcome = try await runner(prepared, environment: ["PATH": "/usr/bin:/bin"]).run(stop: StopFlag())
    #expect(outcome.written == 8)
    #expect(try timing(prepared.run).last?.telemetry == "unavailable: nvidia-smi is not on PATH")
  }

  @Test func brokenDriverMeansTelemetryUnavailableWithItsMessage() async throws {
    let prepared = try prepare("brokensmi", prompts: 2)
    let outcome = try await runner(prepared, environment: ["FAKE_GPU_BROKEN": "1"]).run(stop: StopFlag())
    #expect(outcome.written == 8)
    let telemetry = try #require(try timing(prepared.run).last?.telemetry)
    #expect(telemetry.hasPrefix("unavailable: nvidia-smi exited with status 9") && telemetry.contains("NVIDIA driver"))
  }

  /// Processes with `path` open, from /proc/PID/fd.
  func writers(of path: String) -> [String] {
    let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return processes.filter { Int32($0) != nil }.filter { pid in
      let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
      return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == path }
    }
  }

  /// bash 5.2 can lose a trapped TERM (the fake nvidia-smi once did, and a worker waited for it
  /// forever); the worker kills a sampler that outlives its TERM, and the shard ends.
  @Test(.timeLimit(.minutes(2))) func aSamplerThatIgnoresTermDoesNotHoldTheShard() async throws {
    let prepared = try prepare("stubbornsmi", prompts: 2)
    let bin = prepared.run.path + "/stubborn-bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let fake = TestPaths.fixtures.appendingPathComponent("bin/nvidia-smi").path
    let script = """
      #!/bin/bash
      # The inventory as the fake answers it; the sampling loop ignores TERM.
      case " $* " in *" -lms "*) trap '' TERM; exec '\(fake)' "$@" ;; *) exec '\(fake)' "$@" ;; esac
      """
    try writeExecutable(script, to: bin + "/nvidia-smi")
    let outcome = try await runner(prepared, environment: ["PATH": bin + ":/usr/bin:/bin"]).run(stop: StopFlag())
    #expect(outcome.written == 8)
    let telemetry = try timing(prepared.run).last?.telemetry
    #expect(telemetry == "ok", "\(telemetry ?? "no timing line")")
    let csv = prepared.run.layout.telemetryFile(node: "gpunode", shard: 0)
    #expect(FileManager.default.fileExists(atPath: csv))
    #expect(writers(of: csv).isEmpty, "no process still writes \(csv)")
  }

  /// nvidia-smi can hang on a node whose driver is broken; the shard then goes on without
  /// telemetry, and the hung program is killed.
  @Test(.timeLimit(.minutes(1))) func aHungNvidiaSmiMeansTelemetryUnavailable() async throws {
    let bin = try TestPaths.temporaryDirectory("hungsmi").path
    try writeExecutable("#!/bin/bash\nexec sleep 613\n", to: bin + "/nvidia-smi")
    var sampler = TelemetrySampler(file: bin + "/telemetry.csv", intervalMs: 100, gpuIDs: nil)
    sampler.inventoryTimeout = .milliseconds(500)
    let started = await sampler.start(environment: ["PATH": bin + ":/usr/bin:/bin"])
    #expect(started.summary.hasPrefix("unavailable: nvidia-smi did not answer within"), "\(started.summary)")
    #expect(try await runCommand("/usr/bin/pgrep", ["-f", "^sleep 613$"]).stdout.isEmpty, "the hung nvidia-smi was killed")
  }

  /// A server that is alive but never finishes an answer: each try is abandoned after
  /// engine.request_timeout, and the item is recorded as an error after the retries, not waited
  /// for forever. The model load is not held to the request's bound.
  @Test func aHungServerRunsIntoTheRequestTimeoutAndIsRetried() async throws {
    let prepared = try prepare("hung", prompts: 1, tokenMs: 4000, parallel: 4, extra: "  request_timeout: 1")
    #expect(prepared.spec.engine.requestTimeout == 1)
    let outcome = try await runner(prepared, environment: [:]).run(stop: StopFlag())
    #expect(outcome.written == 4 && outcome.errors == 4)
    let records = try prepared.run.results(0)
    #expect(records.count == 4)
    for record in records {
      #expect(record.status == .error && record.attempts == RetryPolicy().maxAttempts, "\(record)")
      #expect(record.error == "no complete answer within 1 s", "\(record.error ?? "")")
    }
  }

  @Test func missingModelFailsFastAtLoadWithThePullCommand() async throws {
    let prepared = try prepare("nomodel", prompts: 50)
    // The server knows only another model.
    try prepared.run.layout.serverScript.write(
      (String(contentsOfFile: prepared.run.layout.serverScript, encoding: .utf8)).replacingOccurrences(of: "--models gemma:7b", with: "--models llama3:8b"))
    let runner = runner(prepared, environment: [:])
    let error = await #expect(throws: (any Error).self, "the shard should fail") { try await runner.run(stop: StopFlag()) }
    let message = error.map { "\($0)" } ?? ""
    #expect(message.contains("gemma:7b") && message.contains("caravan models pull gemma:7b"), "\(message)")
    #expect(try prepared.run.results(0).isEmpty, "no error records for thousands of items")
  }

  @Test func timeLeftParsesSqueueFormats() {
    #expect(SelfRequeue.parseTimeLeft("0:45") == 45)
    #expect(SelfRequeue.parseTimeLeft("1:02:03") == 3723)
    #expect(SelfRequeue.parseTimeLeft("2-00:00:10\n") == 172_810)
    #expect(SelfRequeue.parseTimeLeft("UNLIMITED") == nil)
    #expect(SelfRequeue.parseTimeLeft("INVALID") == nil)
    #expect(SelfRequeue.shouldRequeue(secondsLeft: 40, grace: 30, restartCount: 0, maxRequeues: 3))
    #expect(!SelfRequeue.shouldRequeue(secondsLeft: 3600, grace: 30, restartCount: 0, maxRequeues: 3), "a cancel or manual requeue leaves time")
    #expect(!SelfRequeue.shouldRequeue(secondsLeft: 40, grace: 30, restartCount: 3, maxRequeues: 3), "bounded")
    #expect(!SelfRequeue.shouldRequeue(secondsLeft: 40, grace: 30, restartCount: 0, maxRequeues: 0), "off")
  }

  /// Two jobs on a node can be handed the same free port: a server whose port is taken by
  /// someone else's listener by the time it starts moves to another, and requests go to it.
  /// It runs under the real `caravan guard`, as in a job.
  @Test func aServerWhosePortIsTakenMovesToAnotherAndIsOurs() async throws {
    let prepared = try prepare("taken", prompts: 1)
    let foreign = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(foreign) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(foreign, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    #expect(listen(foreign, 1) == 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(foreign, $0, &length) } }
    let taken = Int(UInt16(bigEndian: address.sin_port))

    let launch = SupervisedServer.Launch(
      index: 0, script: prepared.run.layout.serverScript, port: taken, cudaVisibleDevices: nil, home: prepared.run.path + "/home-0",
      log: prepared.run.path + "/server.log", runDir: prepared.run.path, environment: ProcessInfo.processInfo.environment,
      requestTimeout: .seconds(60), engine: .sim, orphanGuard: OrphanGuard.Launcher(executable: try TestPaths.binary("caravan")))
    let server = SupervisedServer(launch: launch, readyTimeout: .seconds(60), maxRestarts: 0, pids: nil, logger: Logger(label: "test")) { _ in }
    let supervision = Task { try await server.run() }
    let ready = try await server.readyClient()
    let port = await server.port
    #expect(port != taken)
    #expect(ready.client.baseURL.hasSuffix(":\(port)"))
    #expect(await ready.client.isReady())
    let simulators = try await simulators(prepared.run)
    #expect(simulators.count == 1)
    let simulator = try #require(simulators.first)
    let guardPID = try #require(ProcessTable.status(simulator)?.parent)
    #expect(ProcessTable.owner(ofPort: port, root: guardPID) == .ours)
    await server.stop()
    _ = try? await supervision.value
    #expect(try await self.simulators(prepared.run).isEmpty)
  }

  @Test func serverGPUsFollowTheAllocation() {
    #expect(ShardRunner.serverGPUs(.perGPU, cudaVisibleDevices: "0,1,2") == ["0", "1", "2"])
    #expect(ShardRunner.serverGPUs(.one, cudaVisibleDevices: "0,1") == ["0,1"])
    #expect(ShardRunner.serverGPUs(.perGPU, cudaVisibleDevices: "5") == ["5"])
    #expect(ShardRunner.serverGPUs(.perGPU, cudaVisibleDevices: nil) == [nil])
    #expect(ShardRunner.serverGPUs(.perGPU, cudaVisibleDevices: "") == [nil])
  }
}

extension String {
  fileprivate func write(_ text: String) throws {
    try text.write(toFile: self, atomically: true, encoding: .utf8)
  }
}
