import CaravanCore
import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What a run exposes to other people on the cluster: servers reachable on loopback only, run
/// directories readable by the owner alone (or the group, when the spec says so) whatever the
/// submitter's umask, and no secret from the environment copied into a file of the run.
@Suite(.serialized) struct ExposureTests {
  /// A sim job with two shards, run by local processes.
  func writeJob(in dir: URL, extra: String = "") throws -> URL {
    try """
      {"id": "a", "prompt": "What is Singapore?"}
      {"id": "b", "prompt": "Write a haiku about GPUs"}
      {"id": "c", "prompt": "What is a Large Language Model?"}
      """.write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    let spec = dir.appendingPathComponent("job.yaml")
    try """
      name: exposure
      model: gemma:7b
      prompts: prompts.jsonl
      engine:
        kind: sim
      container:
        runtime: none
      slurm:
        shards: 2
      \(extra)
      """.write(to: spec, atomically: true, encoding: .utf8)
    return spec
  }

  /// `caravan submit --executor local` with umask 000, so every mode in the run is Caravan's doing.
  func submitLocally(_ spec: URL, runDir: String, environment: [String: String] = [:]) async throws -> CommandResult {
    let caravan = try TestPaths.binary("caravan")
    return try await runCommand(
      "/bin/bash", ["-c", "umask 000 && exec \"$0\" submit \"$1\" --executor local --run-dir \"$2\"", caravan, spec.path, runDir], environment: environment)
  }

  /// Every folder and file under `root` (root included) with its mode bits.
  func modes(under root: String) throws -> [(path: String, mode: UInt16, folder: Bool)] {
    var found: [(String, UInt16, Bool)] = []
    var pending = [root]
    while let path = pending.popLast() {
      var info = stat()
      guard lstat(path, &info) == 0 else { throw TestSupportError("cannot stat \(path)") }
      let folder = (info.st_mode & S_IFMT) == S_IFDIR
      found.append((path, UInt16(info.st_mode & 0o7777), folder))
      if folder { pending += try FileManager.default.contentsOfDirectory(atPath: path).map { path + "/" + $0 } }
    }
    return found
  }

  @Test(arguments: [false, true])
  func runDirectoryModesDoNotDependOnTheUmask(shareWithGroup: Bool) async throws {
    let dir = try TestPaths.temporaryDirectory("exposure-modes")
    let spec = try writeJob(in: dir, extra: shareWithGroup ? "share_with_group: true" : "")
    let runDir = dir.path + "/run"
    let result = try await submitLocally(spec, runDir: runDir)
    #expect(result.status == 0, "\(result.stderr)")
    let entries = try modes(under: runDir)
    let relative = Set(entries.map { String($0.path.dropFirst(runDir.count)) })
    // What the worker, the servers, the local executor and collect write is there to be checked.
    for expected in ["/results.jsonl", "/submission.json", "/report.md", "/spec.resolved.json", "/logs/slurm-local_0.out", "/results/shard-0000.jsonl"] {
      #expect(relative.contains(expected), "\(expected) not in \(relative.sorted())")
    }
    #expect(relative.contains { $0.hasPrefix("/logs/server-") || $0.hasPrefix("/logs/servers") }, "no server log in \(relative.sorted())")
    for entry in entries {
      let name = String(entry.path.dropFirst(runDir.count))
      let script = name == "/job.sbatch" || name == "/server.sh"
      let expected: UInt16 =
        shareWithGroup ? (entry.folder ? 0o2750 : script ? 0o750 : 0o640) : (entry.folder ? 0o700 : script ? 0o700 : 0o600)
      #expect(entry.mode == expected, "\(name.isEmpty ? "/" : name): \(String(entry.mode, radix: 8)), expected \(String(expected, radix: 8))")
    }
  }

  /// slurmstepd creates the task's log with the submitter's umask before the script runs; the
  /// script gives it the run's mode first thing. The job's own umask is left alone: its servers
  /// may write a model store colleagues share.
  @Test func jobScriptGivesSlurmsLogTheRunsMode() async throws {
    let dir = try TestPaths.temporaryDirectory("exposure-script")
    for (share, mode) in [(false, "0600"), (true, "0640")] {
      let spec = try writeJob(in: dir, extra: share ? "share_with_group: true" : "")
      let runDir = dir.path + "/run-\(share)"
      let result = try await caravan(["submit", spec.path, "--dry-run", "--run-dir", runDir])
      #expect(result.status == 0, "\(result.stderr)")
      let script = try String(contentsOfFile: runDir + "/job.sbatch", encoding: .utf8)
      #expect(script.contains("chmod \(mode) \"$RUN_DIR/logs/slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.out\""), "\(script)")
      #expect(!script.split(separator: "\n").contains { $0.hasPrefix("umask") })
    }
  }

  /// On the cluster, with the submitter's umask 000 (which Slurm gives the job as SLURM_UMASK):
  /// slurmstepd's logs, the worker's records and the servers' logs all get the run's modes, for
  /// both ways of reaching Slurm.
  @Test(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""), arguments: ["sbatch", "libslurm"])
  func slurmLogsGetTheRunsModes(scheduler: String) async throws {
    let dir = try TestPaths.temporaryDirectory("exposure-slurm")
    let spec = try writeJob(in: dir)
    let runDir = dir.path + "/run"
    let caravan = try TestPaths.binary("caravan")
    let submitted = try await runCommand(
      "/bin/bash", ["-c", "umask 000 && exec \"$0\" submit \"$1\" --executor slurm --scheduler \"$2\" --run-dir \"$3\"", caravan, spec.path, scheduler, runDir])
    if submitted.status != 0, submitted.stderr.contains("libslurm") && scheduler == "libslurm" {
      print("ExposureTests: this build has no libslurm; skipping (\(submitted.stderr))")
      return
    }
    #expect(submitted.status == 0, "\(submitted.stderr)")
    let submission = try jsonObject(String(contentsOfFile: runDir + "/submission.json", encoding: .utf8))
    let jobID = try #require(submission["job_id"] as? String ?? submission["jobID"] as? String, "\(submission)")
    let deadline = Date().addingTimeInterval(180)
    while Date() < deadline {
      let queue = try await runCommand("squeue", ["-h", "-j", jobID, "-o", "%i"])
      if queue.status != 0 || queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
      try await Task.sleep(for: .milliseconds(500))
    }
    let entries = try modes(under: runDir)
    let logs = entries.filter { $0.path.contains("/logs/slurm-") }
    #expect(logs.count == 2, "\(entries.map(\.path))")
    for entry in entries where !entry.folder && !entry.path.hasSuffix(".sbatch") && !entry.path.hasSuffix("server.sh") {
      #expect(entry.mode == 0o600, "\(entry.path): \(String(entry.mode, radix: 8))")
    }
    for entry in entries where entry.folder { #expect(entry.mode == 0o700, "\(entry.path): \(String(entry.mode, radix: 8))") }
  }

  @Test func secretsFromTheEnvironmentReachNoFileOfTheRun() async throws {
    let dir = try TestPaths.temporaryDirectory("exposure-secrets")
    let spec = try writeJob(in: dir)
    let runDir = dir.path + "/run"
    let secrets = [
      "HF_TOKEN": "hf_secretvalue1", "OPENAI_API_KEY": "sk-secretvalue2", "AWS_SECRET_ACCESS_KEY": "secretvalue3",
      "DB_PASSWORD": "secretvalue4", "HUGGING_FACE_HUB_TOKEN": "secretvalue5",
    ]
    let result = try await submitLocally(spec, runDir: runDir, environment: secrets)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!secrets.values.contains { result.stdout.contains($0) || result.stderr.contains($0) })
    let files = try modes(under: runDir).filter { !$0.folder }
    #expect(files.count > 10)
    for file in files {
      let bytes = try Data(contentsOf: URL(fileURLWithPath: file.path))
      for (name, value) in secrets {
        #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file.path) holds the value of \(name)")
      }
    }
  }

  @Test func aSecretWrittenIntoEngineEnvIsRefused() async throws {
    let dir = try TestPaths.temporaryDirectory("exposure-engine-env")
    let spec = try writeJob(in: dir)
    let text = try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(
      of: "  kind: sim\n", with: "  kind: sim\n  env:\n    HF_TOKEN: hf_written_in_the_spec\n    OLLAMA_FLASH_ATTENTION: \"1\"\n")
    try text.write(to: spec, atomically: true, encoding: .utf8)
    let result = try await caravan(["submit", spec.path, "--dry-run", "--run-dir", dir.path + "/run"])
    #expect(result.status == 64)
    #expect(result.stderr.contains("engine.env.HF_TOKEN") && result.stderr.contains("export HF_TOKEN"), "\(result.stderr)")
    #expect(!result.stderr.contains("OLLAMA_FLASH_ATTENTION"))
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/run"))
  }

  /// An IPv4 address of this host that is not loopback, or nil.
  static func nonLoopbackAddress() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return nil }
    defer { freeifaddrs(list) }
    var next: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = next {
      defer { next = entry.pointee.ifa_next }
      guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
      var ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
      var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
      guard inet_ntop(AF_INET, &ipv4, &text, socklen_t(text.count)) != nil else { continue }
      let dotted = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if !dotted.hasPrefix("127.") { return dotted }
    }
    return nil
  }

  /// Whether a TCP connection to `host:port` is accepted (a refusal answers at once on this host).
  static func accepts(_ host: String, port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
  }

  /// server.sh as `caravan submit` renders it, started as the worker starts it (bash, its own
  /// session, PORT, OLLAMA_HOST, SERVER_HOME and RUN_DIR set), answers on 127.0.0.1 and refuses
  /// a connection on the node's other address: the simulator, and llama.cpp's server through
  /// scripts/xllamacpp-server.py when the inference venv is there.
  @Test(arguments: ["sim", "llama.cpp"])
  func serverListensOnLoopbackOnly(engine: String) async throws {
    guard let external = Self.nonLoopbackAddress() else {
      print("ExposureTests: this host has no non-loopback IPv4 address; skipping the listening-address check")
      return
    }
    if engine == "llama.cpp", !RealInference.available {
      print("ExposureTests: no inference venv (scripts/inference-venv.sh); skipping llama.cpp's listening address")
      return
    }
    let dir = try TestPaths.temporaryDirectory("exposure-listen")
    var spec = try writeJob(in: dir)
    if engine == "llama.cpp" {
      let model = try await RealInference.tinyModel()
      let text = try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(
        of: "  kind: sim\n", with: "  kind: openai\n  command: \(try RealInference.serverCommand(model: model))\n")
      spec = dir.appendingPathComponent("llama.yaml")
      try text.write(to: spec, atomically: true, encoding: .utf8)
    }
    let runDir = dir.path + "/run"
    let prepared = try await caravan(["submit", spec.path, "--dry-run", "--run-dir", runDir])
    #expect(prepared.status == 0, "\(prepared.stderr)")
    let port = try freePort()
    let home = dir.path + "/home"
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    var environment = ProcessInfo.processInfo.environment
    environment.merge(["PORT": String(port), "OLLAMA_HOST": "127.0.0.1:\(port)", "SERVER_HOME": home, "RUN_DIR": runDir]) { $1 }
    let log = open(dir.path + "/server.log", O_WRONLY | O_CREAT | O_APPEND, 0o600)
    let pid = try Spawn.start(["/bin/bash", runDir + "/server.sh"], environment: environment, stdout: log, stderr: log, newSession: true)
    close(log)
    let exited = Task { await Spawn.wait(pid) }
    let deadline = ContinuousClock.now + .seconds(engine == "sim" ? 20 : 120)
    var ready = false
    while !ready, ContinuousClock.now < deadline, processIsAlive(pid) {
      let answer = await httpGet(port: port, path: engine == "sim" ? "/" : "/health")
      ready = engine == "sim" ? answer.contains("Ollama is running") : answer.hasPrefix("HTTP/1.1 200")
      if !ready { try? await Task.sleep(for: .milliseconds(100)) }
    }
    let loopback = Self.accepts("127.0.0.1", port: port)
    let outside = Self.accepts(external, port: port)
    await Spawn.stopGroup(pid, patience: .seconds(5))
    _ = await exited.value
    let serverLog = (try? String(contentsOfFile: dir.path + "/server.log", encoding: .utf8)) ?? ""
    try #require(ready, "the server did not answer on 127.0.0.1:\(port): \(serverLog)")
    #expect(loopback)
    #expect(!outside, "the server on port \(port) accepted a connection on \(external)")
  }
}
