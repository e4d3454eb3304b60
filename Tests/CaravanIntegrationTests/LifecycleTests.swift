import CaravanCore
import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

/// What a task leaves on a node: no server outlives its worker (even one killed with SIGKILL),
/// nothing is left in TMPDIR, a drain after TERM is not a crash, and two jobs on one node keep
/// to their own ports, HOMEs, pid files and logs. Local runs on the simulator, no cluster.
@Suite struct LifecycleTests {
  /// A local job on the simulator. Every process of its run inherits `marker` (the test sets
  /// it on `caravan submit`), which is how the test finds them, servers included.
  struct Job {
    var dir: URL
    var spec: URL
    var items: Int
    var marker = UUID().uuidString
    /// TMPDIR for the run's tasks.
    var tmp: URL
  }

  static let markerVariable = "CARAVAN_TEST_LIFECYCLE"

  func writeJob(_ name: String, prompts: Int, shards: Int, tokenMs: Int, tmp: URL? = nil) throws -> Job {
    let dir = try TestPaths.temporaryDirectory("lifecycle-\(name)")
    let sim = try TestPaths.binary("ollama-sim")
    try (1...prompts).map { #"{"id": "q\#($0)", "prompt": "question number \#($0)"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: \(name)
      model: gemma:7b
      prompts: p.jsonl
      repeats: 2
      executor: local
      output: '\(dir.path)/runs'
      engine:
        kind: sim
        parallel: 2
        telemetry_interval: 0
        command: exec '\(sim)' --models gemma:7b --token-ms \(tokenMs)
      slurm: {shards: \(shards)}
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    let tmp = tmp ?? dir.appendingPathComponent("tmp")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    return Job(dir: dir, spec: dir.appendingPathComponent("job.yaml"), items: prompts * 2, tmp: tmp)
  }

  /// `caravan submit` started in a session of its own (so the test can kill its whole group),
  /// with the job's TMPDIR and marker. Output goes to files in the job's folder.
  func startSubmit(_ job: Job) throws -> pid_t {
    var environment = ProcessInfo.processInfo.environment
    environment["TMPDIR"] = job.tmp.path
    environment[Self.markerVariable] = job.marker
    let out = open(job.dir.appendingPathComponent("submit.out").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    defer { close(out) }
    return try Spawn.start([try TestPaths.binary("caravan"), "submit", job.spec.path, "--json"], environment: environment, stdout: out, stderr: out, newSession: true)
  }

  /// The live processes of the job's run (everything that inherited its marker).
  func processes(_ job: Job) -> [ProcessTable.Status] {
    ProcessTable.allPIDs().filter { ProcessTable.environment(of: $0, contains: Self.markerVariable, value: job.marker) }
      .compactMap(ProcessTable.status).filter { !$0.exited }
  }

  func commandLine(_ pid: pid_t) -> String {
    String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
  }

  func runDir(_ job: Job) throws -> String {
    let runs = job.dir.appendingPathComponent("runs").path
    let found = try FileManager.default.contentsOfDirectory(atPath: runs).filter { !$0.hasPrefix(".") }
    // Not #require: this is polled before the run exists, and a failed #require is recorded.
    guard let name = found.first else { throw TestSupportError("no run in \(runs) yet") }
    return runs + "/" + name
  }

  func recorded(_ runDir: String) -> Int {
    let folder = runDir + "/results"
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).reduce(0) { count, file in
      count + ((try? String(contentsOfFile: folder + "/" + file, encoding: .utf8))?.split(separator: "\n").count ?? 0)
    }
  }

  func waitUntil(_ what: String, timeout: Double = 120, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(timeout)
    while ContinuousClock.now < deadline {
      if try condition() { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    if try condition() { return }
    throw TestSupportError("timed out waiting for \(what)")
  }

  /// The ports the run's servers listened on (timing files), per shard.
  func serverPorts(_ runDir: String) throws -> [Int] {
    let folder = runDir + "/timing"
    return try FileManager.default.contentsOfDirectory(atPath: folder).flatMap { file in
      try readJSONLines(folder + "/" + file).filter { $0["event"] == .string("server") }.compactMap { $0["port"]?.intValue }
    }
  }

  /// The HOMEs the run's servers got, from the banner each start writes to the server log.
  func serverHomes(_ runDir: String) throws -> Set<String> {
    let logs = runDir + "/logs"
    var homes = Set<String>()
    for file in try FileManager.default.contentsOfDirectory(atPath: logs) where file.hasPrefix("server-") {
      for line in try String(contentsOfFile: logs + "/" + file, encoding: .utf8).split(separator: "\n") where line.hasPrefix("caravan: starting server") {
        if let home = line.split(separator: " ").first(where: { $0.hasPrefix("HOME=") }) { homes.insert(String(home.dropFirst(5).dropLast())) }
      }
    }
    return homes
  }

  /// Resumes (when asked), collects, and checks every key is in the results exactly once, ok.
  func expectEveryKeyExactlyOnce(_ runDir: String, items: Int) async throws {
    let collect = try await caravan(["collect", runDir])
    #expect(collect.status == 0, "collect: \(collect.stdout)\(collect.stderr)")
    let results = try readJSONLines(runDir + "/results.jsonl")
    let keys = results.map { "\($0["id"]!.stringValue!)|\($0["variant"]!.stringValue!)|\($0["repeat"]!.intValue!)" }
    #expect(keys.count == items && Set(keys).count == items)
    #expect(results.allSatisfy { $0["status"] == .string("ok") })
    #expect(!collect.stderr.contains("records; the last one was kept"), "an item was done twice: \(collect.stderr)")
  }

  @Test func aKilledLocalRunLeavesNoServerAndResumeFinishesIt() async throws {
    // Long enough that a loaded machine cannot finish it between the poll and the kill.
    let job = try writeJob("sigkill", prompts: 40, shards: 2, tokenMs: 40)
    let submit = try startSubmit(job)
    try await waitUntil("a few records") { (try? recorded(runDir(job))) ?? 0 >= 4 }
    let run = try runDir(job)
    let ports = try serverPorts(run)
    #expect(ports.count == 2, "one server per shard: \(ports)")
    // The whole local run at once: caravan submit, the job scripts and the workers.
    kill(-submit, SIGKILL)
    _ = await Spawn.wait(submit)
    try await waitUntil("every process of the run to end", timeout: 15) { processes(job).isEmpty }
    for port in ports { #expect(await httpGet(port: port, path: "/").isEmpty, "something still answers on port \(port)") }
    #expect(recorded(run) < job.items, "the run was killed before the end")

    let resume = try await runCommand(try TestPaths.binary("caravan"), ["resume", run], environment: ["TMPDIR": job.tmp.path])
    #expect(resume.status == 0, "resume: \(resume.stdout)\(resume.stderr)")
    try await expectEveryKeyExactlyOnce(run, items: job.items)
    #expect(processes(job).isEmpty)
  }

  @Test func termToEveryProcessDrainsWithoutRestartsAndResumeSendsTheRestOnce() async throws {
    let job = try writeJob("term-all", prompts: 16, shards: 1, tokenMs: 60)
    let submit = try startSubmit(job)
    try await waitUntil("a few records") { (try? recorded(runDir(job))) ?? 0 >= 4 }
    let run = try runDir(job)
    // What a requeue or scancel without -b does: TERM to every process of the job (not to the
    // submitting caravan, which stands for the login side here).
    let signalled = processes(job).filter { $0.pid != submit }
    for process in signalled { kill(process.pid, SIGTERM) }
    // The simulator, like Hummingbird apps, drains on TERM; a server that dies at once (a TERM
    // it does not handle, or a container runtime's KILL) is what tests the worker: kill it.
    for process in signalled where commandLine(process.pid).contains("ollama-sim") { kill(process.pid, SIGKILL) }
    _ = await Spawn.wait(submit)
    try await waitUntil("every process of the run to end", timeout: 15) { processes(job).isEmpty }
    let first = recorded(run)
    #expect(first < job.items, "the worker stopped early")

    let log = try String(contentsOfFile: run + "/logs/slurm-local_0.out", encoding: .utf8)
    #expect(!log.contains("restarting server") && !log.contains(") died (exit status"), "a drain is not a crash: \(log)")
    let timing = try readJSONLines(run + "/timing/shard-0000.jsonl")
    #expect(!timing.contains { $0["event"] == .string("server") && ($0["server_restarts"]?.intValue ?? 0) > 0 })
    #expect(timing.contains { $0["event"] == .string("shard") && $0["outcome"] == .string("stopped") }, "\(timing)")
    let records = try readJSONLines(run + "/results/shard-0000.jsonl")
    #expect(records.allSatisfy { $0["status"] == .string("ok") }, "in-flight items were left, not written as errors")

    let resume = try await runCommand(try TestPaths.binary("caravan"), ["resume", run], environment: ["TMPDIR": job.tmp.path])
    #expect(resume.status == 0, "resume: \(resume.stdout)\(resume.stderr)")
    try await expectEveryKeyExactlyOnce(run, items: job.items)
    #expect(try FileManager.default.contentsOfDirectory(atPath: job.tmp.path) == [], "TMPDIR after the resumed run")
  }

  @Test func twoRunsOnOneNodeKeepToTheirOwnPortsHomesAndLogsAndLeaveTMPDIREmpty() async throws {
    let shared = try TestPaths.temporaryDirectory("lifecycle-node-tmp")
    let jobs = [try writeJob("node-a", prompts: 6, shards: 2, tokenMs: 5, tmp: shared), try writeJob("node-b", prompts: 6, shards: 2, tokenMs: 5, tmp: shared)]
    let pids = try jobs.map(startSubmit)
    for pid in pids { #expect(await Spawn.wait(pid) == 0) }
    let runs = try jobs.map(runDir)
    for (job, run) in zip(jobs, runs) { try await expectEveryKeyExactlyOnce(run, items: job.items) }

    let ports = try runs.map { Set(try serverPorts($0)) }
    #expect(ports[0].count == 2 && ports[1].count == 2 && ports[0].isDisjoint(with: ports[1]), "\(ports)")
    let homes = try runs.map(serverHomes)
    #expect(homes[0].count == 2 && homes[1].count == 2 && homes[0].isDisjoint(with: homes[1]), "\(homes)")
    #expect(homes.joined().allSatisfy { $0.hasPrefix(shared.path + "/caravan-") })
    // Every server wrote its log in its own run: nothing of one run in the other's.
    for (index, run) in runs.enumerated() {
      let logs = try FileManager.default.contentsOfDirectory(atPath: run + "/logs").filter { $0.hasPrefix("server-") }
      #expect(logs.sorted() == ["server-shard-0000.log", "server-shard-0001.log"])
      for log in logs {
        let text = try String(contentsOfFile: run + "/logs/" + log, encoding: .utf8)
        #expect(!ports[1 - index].contains { text.contains("127.0.0.1:\($0),") }, "run \(index)'s log mentions the other run's port")
      }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: shared.path) == [], "the tasks left pid files or HOMEs in TMPDIR")
    #expect(jobs.allSatisfy { processes($0).isEmpty })
  }
}
