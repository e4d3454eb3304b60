import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

let slurmConf = ProcessInfo.processInfo.environment["SLURM_CONF"]

/// A job on the simulator: 4 prompts × 2 variants (options, Modelfile) × 3 repeats in 3 shards.
func writeE2EJob(in dir: URL, requestLogs: URL) throws -> URL {
  let sim = try TestPaths.binary("ollama-sim")
  try """
    {"id": "a", "prompt": "What is Singapore?"}
    {"id": "b", "messages": [{"role": "user", "content": "What is a Large Language Model?"}]}
    {"id": "c", "prompt": "Write a haiku about GPUs", "options": {"seed": 7}}
    {"id": "d", "prompt": "Write a happy birthday message, I would like to send to my friend."}
    """.write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
  let spec = dir.appendingPathComponent("job.yaml")
  try """
    name: e2e
    model: gemma:7b
    prompts: prompts.jsonl
    repeats: 3
    engine:
      kind: sim
      parallel: 2
      command: exec '\(sim)' --models gemma:7b --request-log '\(requestLogs.path)'/requests-$SLURM_ARRAY_TASK_ID.jsonl
    variants:
      - name: cold
        options: {temperature: 0, top_k: 5}
      - name: warm
        modelfile: |
          FROM gemma:7b
          PARAMETER temperature 0.9
          PARAMETER top_p 0.5
          SYSTEM You are terse.
    slurm:
      shards: 3
      distribution: static
      gpus_per_node: 1
      time: "00:05:00"
      grace: 30
    container:
      runtime: none
    """.write(to: spec, atomically: true, encoding: .utf8)
  return spec
}

func caravan(_ arguments: [String], in directory: URL? = nil) async throws -> CommandResult {
  try await runCommand(try TestPaths.binary("caravan"), arguments, in: directory)
}

func jsonObject(_ text: String) throws -> [String: Any] {
  try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

func readJSONLines(_ path: String) throws -> [JSONValue] {
  try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
}

@Suite(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""), .serialized)
struct SlurmEndToEndTests {
  /// Polls squeue until the job has left the queue.
  func waitForJob(_ id: String, timeout: TimeInterval = 180) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      let queue = try await runCommand("squeue", ["-h", "-j", id, "-o", "%i %T"])
      if queue.status != 0 || queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
      try await Task.sleep(for: .milliseconds(500))
    }
    throw TestSupportError("job \(id) still queued after \(timeout) s")
  }

  @Test func batchRunsOnSlurmAndEveryKeyIsRecordedExactlyOnce() async throws {
    let dir = try TestPaths.temporaryDirectory("e2e-slurm")
    let logs = dir.appendingPathComponent("requests")
    try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
    let spec = try writeE2EJob(in: dir, requestLogs: logs)

    let submit = try await caravan(["submit", spec.path, "--executor", "slurm", "--json"])
    #expect(submit.status == 0, "\(submit.stderr)")
    let submitted = try jsonObject(submit.stdout)
    let jobID = try #require(submitted["job_id"] as? String)
    let runDir = try #require(submitted["run_dir"] as? String)
    #expect(Int(jobID) != nil)
    try await waitForJob(jobID)

    let collect = try await caravan(["collect", runDir])
    #expect(collect.status == 0, "collect: \(collect.stdout)\(collect.stderr)")

    // Every planned key exactly once, in plan order.
    let results = try readJSONLines(runDir + "/results.jsonl")
    #expect(results.count == 24)
    let keys = results.map { "\($0["id"]!.stringValue!)|\($0["variant"]!.stringValue!)|\($0["repeat"]!.intValue!)" }
    #expect(Set(keys).count == 24)
    #expect(results.map { $0["seq"]!.intValue! } == Array(0..<24))
    #expect(results.allSatisfy { $0["status"] == .string("ok") })
    // The shards really ran as array tasks on the cluster's nodes.
    #expect(Set(results.map { $0["shard"]!.intValue! }) == [0, 1, 2])
    let nodes = Set(results.compactMap { $0["node"]?.stringValue })
    #expect(nodes.isSubset(of: ["n1", "n2", "n3", "n4"]) && !nodes.isEmpty, "nodes: \(nodes)")
    #expect(results.allSatisfy { $0["job_id"]?.stringValue?.hasPrefix(jobID + "_") == true })
    // Raw shard files hold no duplicates either (collect would hide them).
    var raw: [String] = []
    for shard in 0..<3 { raw += try readJSONLines(runDir + "/results/shard-000\(shard).jsonl").map { "\($0["id"]!)|\($0["variant"]!)|\($0["repeat"]!)" } }
    #expect(raw.count == 24 && Set(raw).count == 24)

    // Each variant's options reached the server.
    var requests: [JSONValue] = []
    for shard in 0..<3 { requests += try readJSONLines(logs.appendingPathComponent("requests-\(shard).jsonl").path) }
    // Each server loads each model once before the requests (`load: true` in the log).
    let loads = requests.filter { $0["load"] == .bool(true) }
    #expect(Set(loads.compactMap { $0["model"]?.stringValue }) == ["gemma:7b", "caravan-e2e-warm"])
    let cold = requests.filter { $0["model"] == .string("gemma:7b") && $0["endpoint"] != .string("/api/create") && $0["load"] == nil }
    #expect(cold.count == 12)
    #expect(cold.allSatisfy { $0["options"]?["temperature"] == .int(0) && $0["options"]?["top_k"] == .int(5) })
    let creates = requests.filter { $0["endpoint"] == .string("/api/create") }
    #expect(!creates.isEmpty)
    #expect(creates.allSatisfy { $0["body"]?["from"] == .string("gemma:7b") && $0["body"]?["parameters"] == .object(["temperature": .double(0.9), "top_p": .double(0.5)]) && $0["body"]?["system"] == .string("You are terse.") })
    let warm = requests.filter { $0["model"] == .string("caravan-e2e-warm") && $0["endpoint"] != .string("/api/create") && $0["load"] == nil }
    #expect(warm.count == 12)
    #expect(warm.allSatisfy { $0["effective_options"]?["temperature"] == .double(0.9) && $0["effective_options"]?["top_p"] == .double(0.5) })
    // A per-line option overrides the variant's.
    #expect(requests.filter { $0["options"]?["seed"] == .int(7) }.count == 6)
  }

  @Test func everyRenderedScriptIsAcceptedBySbatchTestOnly() async throws {
    let dir = try TestPaths.temporaryDirectory("test-only")
    let e2e = try writeE2EJob(in: dir, requestLogs: dir)
    // The cluster tutorial as a site would have it: its image and its model in the store.
    let tutorial = try String(contentsOfFile: TestPaths.packageRoot.path + "/jobs/tutorial.yaml", encoding: .utf8)
      .replacingOccurrences(of: "prompts: tutorial-prompts.jsonl", with: "prompts: \(TestPaths.packageRoot.path)/jobs/tutorial-prompts.jsonl")
      .replacingOccurrences(of: "models_dir: /scratch/ollama-models", with: "models_dir: \(dir.path)/store")
    try FakeSite.store(at: dir.path + "/store", models: ["gemma:7b"])
    try FakeSite.image(at: dir.path + "/ollama.sif")
    try tutorial.write(to: dir.appendingPathComponent("tutorial.yaml"), atomically: true, encoding: .utf8)
    var scripts: [String] = []
    for (index, spec) in [e2e.path, dir.path + "/tutorial.yaml", TestPaths.packageRoot.path + "/jobs/tutorial-sim.yaml"].enumerated() {
      let runDir = dir.appendingPathComponent("run-\(index)").path
      let result = try await caravan(["submit", spec, "--dry-run", "--run-dir", runDir])
      #expect(result.status == 0, "\(spec): \(result.stderr)")
      scripts.append(runDir + "/job.sbatch")
    }
    let snapshots = TestPaths.packageRoot.appendingPathComponent("Tests/CaravanRenderTests/Snapshots")
    scripts += try FileManager.default.contentsOfDirectory(atPath: snapshots.path).filter { $0.hasSuffix(".sbatch.golden") }.map { snapshots.path + "/" + $0 }
    #expect(scripts.count >= 5)
    for script in scripts {
      let syntax = try await runCommand("/bin/bash", ["-n", script])
      #expect(syntax.status == 0, "bash -n \(script): \(syntax.stderr)")
      let test = try await runCommand("sbatch", ["--test-only", script])
      #expect(test.status == 0, "sbatch --test-only \(script): \(test.stderr)")
      #expect(test.stderr.contains("to start at"), "\(test.stderr)")
    }
  }

  @Test func badSpecIsRefusedBeforeAnythingIsWrittenOrSubmitted() async throws {
    let dir = try TestPaths.temporaryDirectory("bad-slurm")
    let spec = try writeE2EJob(in: dir, requestLogs: dir)
    let text = try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(of: "options: {temperature: 0, top_k: 5}", with: "options: {temprature: 0, top_k: -5}")
    try text.write(to: spec, atomically: true, encoding: .utf8)
    let before = try await runCommand("squeue", ["-h", "-n", "e2e", "-o", "%i"]).stdout
    let result = try await caravan(["submit", spec.path, "--executor", "slurm"])
    #expect(result.status == 64)
    #expect(result.stderr.contains("job.yaml:11: variants[0].options.temprature: unknown Ollama option 'temprature'"), "\(result.stderr)")
    #expect(result.stderr.contains("did you mean 'temperature'?"))
    #expect(result.stderr.contains("variants[0].options.top_k: option 'top_k' is -5 but must be >= 0"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
    #expect(try await runCommand("squeue", ["-h", "-n", "e2e", "-o", "%i"]).stdout == before)
  }
}

@Suite struct LocalExecutorTests {
  /// The README's main job: the tutorial on the simulator, run as local processes.
  @Test func tutorialLocalRunsToCompletion() async throws {
    let dir = try TestPaths.temporaryDirectory("tutorial-local")
    let result = try await caravan(["submit", TestPaths.packageRoot.path + "/jobs/tutorial-sim.yaml", "--run-dir", dir.appendingPathComponent("run").path, "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let output = try jsonObject(result.stdout)
    #expect(output["ok"] as? Int == 18)
    #expect(output["missing"] as? Int == 0)
    let results = try readJSONLines(dir.appendingPathComponent("run/results.jsonl").path)
    #expect(results.count == 18)
    // The two questions ran with defaults only; the birthday message under the four Modelfiles.
    #expect(Set(results.filter { $0["id"] == .string("birthday") }.map { $0["variant"]!.stringValue! }) == ["low-temp", "high-temp", "top-k-3", "top-k-200"])
    #expect(Set(results.filter { $0["id"] != .string("birthday") }.map { $0["variant"]!.stringValue! }) == ["default"])
    let lowTemp = results.first { $0["variant"] == .string("low-temp") }
    #expect(lowTemp?["options"] == .object(["temperature": .double(0.1)]))
  }
}

@Suite struct BadInputTests {
  func write(_ files: [String: String]) throws -> URL {
    let dir = try TestPaths.temporaryDirectory("bad-input")
    for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    return dir
  }

  @Test func problemsAreReportedTogetherWithFileLineAndKey() async throws {
    let dir = try write([
      "job.yaml": """
        name: bad name
        model: gemma:7b
        prompts: p.jsonl
        modle: x
        variants:
          - name: a
            options: {mirostat: 1, top_p: 1.5}
        container: {runtime: none}
        """,
      "p.jsonl": "{\"id\": \"a\", \"prompt\": \"x\"}\n",
    ])
    let result = try await caravan(["submit", "job.yaml", "--dry-run"], in: dir)
    #expect(result.status == 64)
    #expect(result.stderr.contains("job.yaml:4: modle: unknown key 'modle'; did you mean 'model'?"), "\(result.stderr)")
    #expect(result.stderr.contains("job.yaml:7: variants[0].options.mirostat: option 'mirostat' was removed"))
    #expect(result.stderr.contains("job.yaml:7: variants[0].options.top_p: option 'top_p' is 1.5 but must be between 0 and 1"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
  }

  @Test func promptFileProblemsNameTheLine() async throws {
    let dir = try write([
      "job.yaml": "name: ok\nmodel: m\nprompts: p.jsonl\ncontainer: {runtime: none}\n",
      "p.jsonl": "{\"id\": \"a\", \"prompt\": \"x\"}\n\n{\"id\": \"a\", \"prompt\": \"y\"}\n{\"id\": \"b\", \"prompt\": \"z\", \"options\": {\"temperature\": -1}}\n{\"id\": \"c\"\n",
    ])
    let result = try await caravan(["submit", "job.yaml", "--dry-run"], in: dir)
    #expect(result.status == 64)
    #expect(result.stderr.contains("p.jsonl:3: duplicate id 'a' (first used on line 1)"), "\(result.stderr)")
    #expect(result.stderr.contains("p.jsonl:4: options.temperature: option 'temperature' is -1 but must be >= 0"))
    #expect(result.stderr.contains("p.jsonl:5: not valid JSON"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
  }

  @Test func missingFilesAreNamed() async throws {
    let dir = try write(["job.yaml": "name: ok\nmodel: m\nprompts: nowhere.jsonl\ncontainer: {runtime: none}\n"])
    let result = try await caravan(["submit", "job.yaml", "--dry-run"], in: dir)
    #expect(result.status == 64)
    #expect(result.stderr.contains("job.yaml: prompts: the prompt file"), "\(result.stderr)")
    #expect(result.stderr.contains("nowhere.jsonl does not exist"))
    let missingSpec = try await caravan(["submit", "absent.yaml"], in: dir)
    #expect(missingSpec.status == 64)
    #expect(missingSpec.stderr.contains("absent.yaml: the job spec does not exist"))
  }
}
