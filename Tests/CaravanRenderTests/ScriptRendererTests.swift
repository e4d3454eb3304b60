import CaravanCore
import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRender

/// Fixed inputs so the goldens do not depend on the machine.
enum Fixtures {
  static func simJob() -> BatchJob {
    var slurm = JobSpec.Slurm()
    slurm.partition = "debug"
    slurm.time = "00:10:00"
    slurm.shards = 3
    slurm.gpusPerNode = 1
    slurm.cpusPerTask = 2
    slurm.mem = "1G"
    slurm.setup = ["module load apptainer", "export TMPDIR=/tmp"]
    let server = ServerLaunch(runtime: .none, image: "", flags: [], binds: [], command: "exec /opt/caravan/bin/ollama-sim --models gemma:7b", modelsDir: nil, parallel: 4, env: [:], model: "gemma:7b")
    return BatchJob(name: "e2e", runDir: "/scratch/runs/e2e-1", shardCount: 3, slurm: slurm, caravan: "/opt/caravan/bin/caravan", server: server, origin: "0.1.0 from job.yaml (run e2e-1)")
  }

  static func apptainerJob() -> BatchJob {
    var slurm = JobSpec.Slurm()
    slurm.account = "proj-42"
    slurm.qos = "normal"
    slurm.time = "1-00:00:00"
    slurm.gpusPerNode = 2
    slurm.extra = ["--mail-type=END", "--exclusive"]
    let server = ServerLaunch(runtime: .apptainer, image: "/project/images/ollama 0.6.sif", flags: ["--nv"], binds: ["/project/data:/data:ro"], command: "ollama serve", modelsDir: "/scratch/shared models", parallel: 8, env: ["OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_LOAD_TIMEOUT": "15m"], model: "gemma:7b")
    return BatchJob(name: "tutorial", runDir: "/scratch/my runs/tutorial-1", shardCount: 1, slurm: slurm, caravan: "/opt/caravan/bin/caravan", server: server, origin: "0.1.0 from jobs/tutorial.yaml (run tutorial-1)")
  }

  /// One job of four whole nodes, each step claiming chunks (`slurm.layout: nodes`).
  static func nodesJob() -> BatchJob {
    var job = simJob()
    job.slurm.layout = .nodes
    job.slurm.shards = 4
    job.shardCount = 4
    return job
  }

  /// A throttled array: `--array=0-2%2`.
  static func throttledJob() -> BatchJob {
    var job = simJob()
    job.slurm.maxRunning = 2
    return job
  }
}

@Suite struct ScriptRendererTests {
  static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

  @Test(arguments: [("sim-none", Fixtures.simJob()), ("apptainer-nv", Fixtures.apptainerJob()), ("nodes-layout", Fixtures.nodesJob())])
  func matchesGolden(name: String, job: BatchJob) throws {
    let script = ScriptRenderer.render(job)
    let mismatch = try goldenMismatch(script, golden: Self.snapshots.appendingPathComponent("\(name).sbatch.golden"))
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }

  @Test func maxRunningThrottlesTheArray() {
    let job = Fixtures.throttledJob()
    #expect(job.arrayIndices == "0-2%2")
    #expect(job.directives.contains(BatchJob.Directive("--array", "0-2%2")))
    var resumed = job
    resumed.shards = [0, 2]
    #expect(resumed.arrayIndices == "0,2%2")
  }

  @Test func aNodesLayoutJobHasNoArrayAndSignalsEveryStep() throws {
    let job = Fixtures.nodesJob()
    let options = job.directives.map(\.option)
    #expect(!options.contains("--array"))
    #expect(job.directives.contains(BatchJob.Directive("--nodes", "4")) && job.directives.contains(BatchJob.Directive("--ntasks-per-node", "1")))
    #expect(job.directives.contains(BatchJob.Directive("--signal", "TERM@120")))
    #expect(job.outputPattern.hasSuffix("/logs/slurm-%j.out") && job.highestArrayIndex == nil)
    let script = ScriptRenderer.render(job)
    #expect(script.contains("srun --nodes=\"$SLURM_JOB_NUM_NODES\" --ntasks-per-node=1"))
    #expect(script.contains("SHARD=\"${SLURM_PROCID:-${SLURM_ARRAY_TASK_ID:-0}}\""))
  }

  @Test(arguments: [Fixtures.simJob(), Fixtures.apptainerJob()])
  func passesBashSyntaxCheck(job: BatchJob) async throws {
    let dir = try TestPaths.temporaryDirectory()
    for (name, text) in [("job.sbatch", ScriptRenderer.render(job)), ("server.sh", job.server.script(origin: job.origin))] {
      let file = dir.appendingPathComponent(name)
      try text.write(to: file, atomically: true, encoding: .utf8)
      let result = try await runCommand("/bin/bash", ["-n", file.path])
      #expect(result.status == 0, "bash -n \(name): \(result.stderr)")
    }
  }

  @Test func directivesCarryEverySchedulerSetting() {
    let lines = ScriptRenderer.render(Fixtures.simJob()).split(separator: "\n").filter { $0.hasPrefix("#SBATCH") }
    #expect(lines.contains("#SBATCH --array=0-2"))
    #expect(lines.contains("#SBATCH --gres=gpu:1"))
    #expect(lines.contains("#SBATCH --signal=B:TERM@120"))
    #expect(lines.contains("#SBATCH --requeue"))
    #expect(lines.contains("#SBATCH --open-mode=append"))
    #expect(lines.contains("#SBATCH --output=/scratch/runs/e2e-1/logs/slurm-%A_%a.out"))
    #expect(lines.contains("#SBATCH --partition=debug"))
    #expect(lines.contains("#SBATCH --cpus-per-task=2"))
    #expect(lines.contains("#SBATCH --mem=1G"))
  }

  @Test func apptainerServerBindsLoopbackAndKeepsModelsOutOfHome() {
    let job = Fixtures.apptainerJob()
    let script = job.server.script(origin: job.origin)
    // The image's ENV OLLAMA_HOST=0.0.0.0 wins over host variables, so it must be passed with --env.
    #expect(script.contains("--env \"OLLAMA_HOST=127.0.0.1:$PORT\""))
    #expect(script.contains("--env 'OLLAMA_MODELS=/scratch/shared models'"))
    #expect(script.contains("--bind '/scratch/shared models'"))
    #expect(script.contains("'/project/images/ollama 0.6.sif' ollama serve"))
    #expect(!script.split(separator: "\n").contains { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") && $0.contains("0.0.0.0") })
  }

  @Test func shellQuotingKeepsValuesIntact() async throws {
    for value in ["plain", "with space", "it's", "$HOME", "a\"b", "`date`", "semi;colon", ""] {
      let result = try await runCommand("/bin/bash", ["-c", "printf %s \(shellQuote(value))"])
      #expect(result.stdout == value)
    }
  }

  @Test func bashQuotingKeepsLineBreaksOnOneLine() async throws {
    for value in ["a\nb", "x\r\ntouch y", "tab\there", "it's\n\\n", "\u{1}\u{7F}é\n日本"] {
      let quoted = bashQuote(value)
      #expect(!quoted.contains("\n") && !quoted.contains("\r"), "\(quoted)")
      let result = try await runCommand("/bin/bash", ["-c", "printf %s \(quoted)"])
      #expect(result.stdout == value)
    }
  }

  /// What sbatch's directive parser reads back: quotes, backslashes and `#` are kept, and a line
  /// break in a value never starts a new line of the script.
  @Test func sbatchDirectivesQuoteWhatSbatchWouldSplit() {
    #expect(ScriptRenderer.sbatchQuote("plain-name") == "plain-name")
    #expect(ScriptRenderer.sbatchQuote("a b") == "\"a b\"")
    #expect(ScriptRenderer.sbatchQuote("it's #1 \"x\" \\") == #""it's #1 \"x\" \\""#)
    var job = Fixtures.simJob()
    job.name = "a\ntouch CANARY"
    job.slurm.extra = ["--comment=x\r\ntouch CANARY"]
    job.origin = "spec\n$(touch CANARY).yaml"
    let script = ScriptRenderer.render(job)
    #expect(!script.split(separator: "\n").contains { $0.hasPrefix("touch") || $0.hasPrefix("$(touch") })
    #expect(script.contains("#SBATCH --job-name=\"a?touch CANARY\""))
    #expect(script.contains("#SBATCH --comment=x??touch CANARY"))
  }

  /// Runs the rendered script for real with a stand-in `caravan` whose "worker" starts a server
  /// in its own session, lists it in the pid file, and exits as if killed; the pid file also
  /// names a stranger's live process (a stale pid). The script must pass the worker its
  /// arguments, stop the orphaned server (it carries the task's token) through the real
  /// `caravan stop-leftovers`, leave the stranger alone, and remove its task folder.
  @Test func scriptRunsWorkerAndStopsOnlyItsOwnServersLeftBehind() async throws {
    let dir = try TestPaths.temporaryDirectory("render-run")
    let tmp = dir.appendingPathComponent("tmp")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    let runDir = dir.appendingPathComponent("run dir's")
    try FileManager.default.createDirectory(at: runDir.appendingPathComponent("logs"), withIntermediateDirectories: true)
    let stranger = try Spawn.start(["/bin/sleep", "60"], environment: ["PATH": "/usr/bin:/bin"], newSession: true)
    defer {
      kill(stranger, SIGKILL)
      _ = waitpid(stranger, nil, 0)
    }
    let fake = dir.appendingPathComponent("caravan")
    let serverPID = dir.appendingPathComponent("server-pid")
    try writeExecutable(
      """
      #!/bin/bash
      [ "$1" = stop-leftovers ] && exec \(shellQuote(try TestPaths.binary("caravan"))) "$@"
      printf '%s\\n' "$@" > "$(dirname "$0")/worker-args"
      pidfile="" taskdir=""
      while [ $# -gt 0 ]; do
        [ "$1" = --pid-file ] && pidfile="$2"
        [ "$1" = --task-dir ] && taskdir="$2"
        shift
      done
      mkdir "$taskdir/home-0"
      setsid sleep 60 </dev/null >/dev/null 2>&1 &
      server=$!
      # As the real worker (posix_spawn with setsid) does: list the server once it leads its session.
      while [ "$(ps -o sid= -p "$server" | tr -d ' ')" != "$server" ]; do sleep 0.01; done
      echo "$server" > \(shellQuote(serverPID.path))
      printf '%s\\n%s 1\\n' "$server" \(stranger) > "$pidfile"
      exit 137
      """, to: fake.path)
    var job = Fixtures.simJob()
    job.runDir = runDir.path
    job.caravan = fake.path
    job.slurm.setup = []
    let script = dir.appendingPathComponent("job.sbatch")
    try ScriptRenderer.render(job).write(to: script, atomically: true, encoding: .utf8)

    let result = try await runCommand("/bin/bash", [script.path], environment: ["SLURM_ARRAY_TASK_ID": "2", "SLURM_JOB_ID": "77", "TMPDIR": tmp.path, "PATH": "/usr/bin:/bin"])
    #expect(result.status == 137, "the worker's status is the job's: \(result.stdout)\(result.stderr)")

    let workerArgs = try String(contentsOf: dir.appendingPathComponent("worker-args"), encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(Array(workerArgs.prefix(5)) == ["worker", "--run-dir", runDir.path, "--shard", "2"])
    #expect(workerArgs.count == 9 && workerArgs[5] == "--pid-file" && workerArgs[7] == "--task-dir")
    let taskDir = workerArgs.count == 9 ? workerArgs[8] : ""
    #expect(taskDir.hasPrefix(tmp.path + "/caravan-77-2."), "one folder per task run, under TMPDIR: \(taskDir)")
    #expect(workerArgs.count == 9 && workerArgs[6] == taskDir + "/servers.pids")
    let pid = try String(contentsOf: serverPID, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    var stopped = false
    for _ in 0..<50 {
      if kill(Int32(pid)!, 0) != 0 { stopped = true; break }
      try await Task.sleep(for: .milliseconds(100))
    }
    #expect(stopped, "server pid \(pid) still running after the script exited")
    #expect(processIsAlive(stranger), "a process the pid file names but that is not the task's own was signalled")
    #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == [], "the task left files in TMPDIR")
  }
}
