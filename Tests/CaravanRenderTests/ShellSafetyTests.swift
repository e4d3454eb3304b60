import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRender

/// SplitMix64: a small generator whose sequence a seed fixes, so a failing case can be replayed
/// (`CARAVAN_SHELL_SEED=<seed> swift test --filter ShellSafetyTests`).
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Hostile text for every value a script is rendered from: shell syntax that would create
/// `canary` if bash ever ran it, quotes, globs, line breaks and non-ASCII text.
struct HostileText {
  var rng: SeededGenerator
  let canary: String

  mutating func text(slash: Bool = false) -> String {
    let pieces = [
      "$(touch \(canary))", "`touch \(canary)`", ";touch \(canary);", "&& touch \(canary)", "| touch \(canary)", "\ntouch \(canary)\n",
      "\r\ntouch \(canary)", "'", "\"", "'\"'\"'", " ", "  ", "\t", "*", "?", "[a-z]", "~", "\\", "\\n", "$HOME", "${PATH}", "$1", "!!", "#", "%",
      "%A", "=", ",", ":", "{a,b}", "é", "日本語", "🚀", "\u{2028}", "\u{85}", "-", "--", "x", "model", "3",
    ] + (slash ? ["/", "/.."] : [])
    var out = ""
    for _ in 0..<Int.random(in: 1...5, using: &rng) { out += pieces.randomElement(using: &rng)! }
    return out
  }
}

/// Scripts rendered from random hostile values: each passes `bash -n`, runs without ever running
/// injected text (the canary file is never made), hands every value to its program unchanged,
/// and (with the local cluster) is accepted by `sbatch --test-only`. `slurm.setup` lines and the
/// engine command are shell the user writes on purpose, so they are not fuzzed here.
@Suite(.serialized) struct ShellSafetyTests {
  static let seed: UInt64 = ProcessInfo.processInfo.environment["CARAVAN_SHELL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
  static let cases = ProcessInfo.processInfo.environment["CARAVAN_SHELL_CASES"].flatMap { Int($0) } ?? 200

  /// A folder for one case, and an executable there that writes its arguments, NUL-separated.
  /// A child shell writes it: a file this test process held open for writing could be inherited
  /// by a process another test spawns meanwhile, and running it would fail with "text file busy".
  static func caseFolder(_ root: URL, _ index: Int, stubName: String, stubFolder: String) async throws -> (dir: String, stub: String) {
    let dir = root.appendingPathComponent("c\(index)").path
    let stubDir = dir + "/" + stubFolder
    try FileManager.default.createDirectory(atPath: stubDir, withIntermediateDirectories: true)
    let stub = stubDir + "/" + stubName
    let body = "#!/bin/bash\nprintf '%s\\0' \"$@\" >\"${STUB_OUT:-/dev/stdout}\"\n"
    let made = try await runCommand("/bin/bash", ["-c", "printf '%s' \"$2\" >\"$1\" && chmod 755 \"$1\"", "stub", stub, body])
    guard made.status == 0 else { throw TestSupportError("cannot write \(stub): \(made.stderr)") }
    return (dir, stub)
  }

  static func arguments(_ output: String) -> [String] {
    var parts = output.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    if parts.last == "" { parts.removeLast() }
    return parts
  }

  @Test func jobScriptRunsTheWorkerWithItsPathsUnchanged() async throws {
    let root = try TestPaths.temporaryDirectory("shell-job")
    let canary = root.path + "/CANARY"
    var hostile = HostileText(rng: SeededGenerator(state: Self.seed), canary: canary)
    let replay = "seed \(Self.seed): CARAVAN_SHELL_SEED=\(Self.seed) swift test --filter ShellSafetyTests"
    for index in 0..<Self.cases {
      let (dir, stub) = try await Self.caseFolder(root, index, stubName: "caravan", stubFolder: hostile.text().replacingOccurrences(of: "/", with: "_"))
      var slurm = JobSpec.Slurm()
      slurm.partition = hostile.text()
      slurm.account = hostile.text()
      slurm.qos = hostile.text()
      slurm.extra = ["--comment=" + hostile.text()]
      let server = ServerLaunch(runtime: .none, image: "", flags: [], binds: [], command: "true", modelsDir: nil, parallel: 1, env: [:])
      let runDir = dir + "/" + hostile.text(slash: true)
      let job = BatchJob(name: hostile.text(), runDir: runDir, shardCount: 2, slurm: slurm, caravan: stub, server: server, origin: hostile.text(slash: true))
      let script = dir + "/job.sbatch"
      try ScriptRenderer.render(job).write(toFile: script, atomically: true, encoding: .utf8)

      let syntax = try await runCommand("/bin/bash", ["-n", script])
      #expect(syntax.status == 0, "case \(index), \(replay): bash -n: \(syntax.stderr)")
      let run = try await runCommand("/bin/bash", [script], in: URL(fileURLWithPath: dir), environment: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_JOB_ID": "77", "TMPDIR": dir, "STUB_OUT": dir + "/arguments"])
      #expect(run.status == 0, "case \(index), \(replay): \(run.stderr)")
      // The task run's folder is made by mktemp (caravan-<job>-<task>.XXXXXXXX), so only its prefix is known.
      let arguments = Self.arguments((try? String(contentsOfFile: dir + "/arguments", encoding: .utf8)) ?? "")
      let taskDir = arguments.last ?? ""
      let expected = ["worker", "--run-dir", runDir, "--shard", "1", "--pid-file", taskDir + "/servers.pids", "--task-dir", taskDir]
      #expect(arguments == expected && taskDir.hasPrefix(dir + "/caravan-77-1."), "case \(index), \(replay): \(arguments)")
      #expect(!FileManager.default.fileExists(atPath: canary), "case \(index), \(replay): the job script ran injected text")
      if FileManager.default.fileExists(atPath: canary) { break }
    }
  }

  @Test func serverScriptPassesEveryValueUnchanged() async throws {
    let root = try TestPaths.temporaryDirectory("shell-server")
    let canary = root.path + "/CANARY"
    var hostile = HostileText(rng: SeededGenerator(state: Self.seed &+ 1), canary: canary)
    let replay = "seed \(Self.seed): CARAVAN_SHELL_SEED=\(Self.seed) swift test --filter ShellSafetyTests"
    for index in 0..<Self.cases {
      let (dir, _) = try await Self.caseFolder(root, index, stubName: "apptainer", stubFolder: "bin")
      let home = dir + "/" + hostile.text().replacingOccurrences(of: "/", with: "_")
      let runDir = dir + "/" + hostile.text(slash: true)
      var env: [String: String] = [:]
      for key in 0..<Int.random(in: 0...3, using: &hostile.rng) { env["X_\(key)"] = hostile.text(slash: true) }
      let apptainer = Bool.random(using: &hostile.rng)
      var flags = (0..<Int.random(in: 0...2, using: &hostile.rng)).map { _ in hostile.text() }
      if Bool.random(using: &hostile.rng) { flags.append("--cleanenv") }
      let command = apptainer && Bool.random(using: &hostile.rng) ? "ollama serve" : "exec /usr/bin/env -0"
      let launch = ServerLaunch(
        runtime: apptainer ? .apptainer : .none, image: hostile.text(slash: true), flags: flags, binds: [hostile.text(slash: true), hostile.text(slash: true)],
        command: command, modelsDir: Bool.random(using: &hostile.rng) ? hostile.text(slash: true) : nil, parallel: 3, env: env,
        engine: [.ollama, .sim, .openai].randomElement(using: &hostile.rng)!, model: hostile.text(), specDir: hostile.text(slash: true))
      let script = dir + "/server.sh"
      try launch.script(origin: hostile.text(slash: true)).write(toFile: script, atomically: true, encoding: .utf8)

      let syntax = try await runCommand("/bin/bash", ["-n", script])
      #expect(syntax.status == 0, "case \(index), \(replay): bash -n: \(syntax.stderr)")
      let path = (dir + "/bin:") + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
      let run = try await runCommand(
        "/bin/bash", [script], in: URL(fileURLWithPath: dir),
        environment: ["PORT": "4242", "SERVER_HOME": home, "RUN_DIR": runDir, "CUDA_VISIBLE_DEVICES": "0", "PATH": path])
      #expect(run.status == 0, "case \(index), \(replay): \(run.stderr)")
      let words = Self.arguments(run.stdout)
      if apptainer {
        var expected = ["exec"] + flags + ["--home", home, "--env", "OLLAMA_HOST=127.0.0.1:4242", "--env", "PORT=4242"]
        expected += launch.environment.flatMap { ["--env", "\($0.0)=\($0.1)"] }
        if launch.dropsHostEnvironment { expected += ["--env", "CUDA_VISIBLE_DEVICES=0"] }
        if let models = launch.modelsDir, launch.engine != .openai { expected += ["--bind", models] }
        expected += ["--bind", runDir] + launch.binds.flatMap { ["--bind", $0] } + [launch.image]
        expected += command == "ollama serve" ? ["ollama", "serve"] : ["bash", "-c", command]
        #expect(words == expected, "case \(index), \(replay)")
      } else {
        // `env -0` prints the server's environment: each value as the spec gave it.
        let seen = Dictionary(words.compactMap { entry in entry.firstIndex(of: "=").map { (String(entry[..<$0]), String(entry[entry.index(after: $0)...])) } }) { $1 }
        for (name, value) in launch.environment { #expect(seen[name] == value, "case \(index), \(replay): \(name)") }
        #expect(seen["HOME"] == home && seen["OLLAMA_HOST"] == "127.0.0.1:4242", "case \(index), \(replay)")
      }
      #expect(!FileManager.default.fileExists(atPath: canary), "case \(index), \(replay): server.sh ran injected text")
      if FileManager.default.fileExists(atPath: canary) { break }
    }
  }

  /// The values sbatch reads: a job name, run directory and origin with quotes, globs, `$()`,
  /// line breaks and non-ASCII text still make a script the real sbatch accepts.
  @Test func sbatchAcceptsScriptsWithHostileNamesAndPaths() async throws {
    guard ProcessInfo.processInfo.environment["SLURM_CONF"] != nil else {
      print("ShellSafetyTests: SLURM_CONF is not set; skipping sbatch --test-only (eval \"$(scripts/local-cluster.sh start)\")")
      return
    }
    let root = try TestPaths.temporaryDirectory("shell-sbatch")
    let canary = root.path + "/CANARY"
    var hostile = HostileText(rng: SeededGenerator(state: Self.seed &+ 2), canary: canary)
    let replay = "seed \(Self.seed): CARAVAN_SHELL_SEED=\(Self.seed) swift test --filter ShellSafetyTests"
    for index in 0..<min(Self.cases, 40) {
      let dir = root.appendingPathComponent("c\(index)").path
      let runDir = dir + "/" + hostile.text().replacingOccurrences(of: "/", with: "_")
      try FileManager.default.createDirectory(atPath: runDir + "/logs", withIntermediateDirectories: true)
      var slurm = JobSpec.Slurm()
      slurm.time = "00:05:00"
      // slurm.extra lines are sbatch options written as the user gives them (quotes and all), so
      // they are not fuzzed here; the other tests check a line break in one cannot start a command.
      let server = ServerLaunch(runtime: .none, image: "", flags: [], binds: [], command: "true", modelsDir: nil, parallel: 1, env: [:])
      let job = BatchJob(name: hostile.text(), runDir: runDir, shardCount: 2, slurm: slurm, caravan: dir + "/" + hostile.text(), server: server, origin: hostile.text())
      let script = dir + "/job.sbatch"
      try ScriptRenderer.render(job).write(toFile: script, atomically: true, encoding: .utf8)
      let test = try await runCommand("sbatch", ["--test-only", script], in: URL(fileURLWithPath: dir))
      #expect(test.status == 0 && test.stderr.contains("to start at"), "case \(index), \(replay): sbatch --test-only: \(test.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: canary))
  }
}
