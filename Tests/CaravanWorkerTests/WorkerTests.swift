import CaravanCore
import CaravanOllama
import CaravanTestSupport
import Foundation
import Logging
import Testing

@testable import CaravanWorker

/// Writes a small job into a temp folder and prepares its run directory.
func prepareRun(spec: String, prompts: String, promptFile: String = "prompts.jsonl") throws -> RunPreparer.Prepared {
  let dir = try TestPaths.temporaryDirectory("worker")
  try spec.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
  try prompts.write(to: dir.appendingPathComponent(promptFile), atomically: true, encoding: .utf8)
  let preparer = RunPreparer(caravanPath: "/usr/bin/true", simulatorPath: "/usr/bin/true", version: "test")
  return try preparer.prepare(specPath: dir.appendingPathComponent("job.yaml").path, runDir: nil)
}

let smallSpec = """
  name: small
  model: gemma:7b
  prompts: prompts.jsonl
  repeats: 2
  engine: {kind: sim, parallel: 3}
  variants:
    - name: cold
      options: {temperature: 0, top_k: 3}
    - name: mf
      modelfile: |
        FROM gemma:7b
        PARAMETER temperature 0.7
        SYSTEM Be brief.
  container: {runtime: none}
  """

let smallPrompts = (1...5).map { #"{"id": "p\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n") + "\n"

@Suite struct ShardWorkerTests {
  func worker(_ run: RunDirectory) -> ShardWorker {
    var worker = ShardWorker(run: run, shard: 0, parallel: 3, node: "testnode", jobID: "1_0", logger: Logger(label: "test"))
    worker.retry.baseDelay = .milliseconds(10)
    return worker
  }

  @Test func recordsEveryItemOnceWithOptionsAndTimings() async throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let log = prepared.run.layout.root + "/requests.jsonl"
    let sim = try SimulatorProcess(arguments: ["--models", "gemma:7b", "--slots", "3", "--request-log", log])
    let outcome = try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.written == 20 && outcome.errors == 0 && !outcome.stopped)

    let records = try prepared.run.results(0)
    #expect(Set(records.map(\.key)).count == 20)
    #expect(records.count == 20)
    for record in records {
      #expect(record.status == .ok)
      #expect(record.node == "testnode" && record.shard == 0 && record.attempts == 1)
      #expect((record.evalCount ?? 0) > 0 && (record.evalDuration ?? 0) > 0 && (record.totalDuration ?? 0) > 0)
      #expect(!(record.response ?? "").isEmpty)
    }
    // What reached the server: per-request options, and the Modelfile variant as a created model.
    let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
    let requests = try lines.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
    let creates = requests.filter { $0["endpoint"] == .string("/api/create") }
    #expect(creates.count == 1)
    #expect(creates.first?["body"]?["from"] == .string("gemma:7b"))
    #expect(creates.first?["body"]?["parameters"] == .object(["temperature": .double(0.7)]))
    #expect(creates.first?["body"]?["modelfile"] == nil)
    // Each model is loaded once before the requests (a generate without a prompt).
    let loads = requests.filter { $0["load"] == .bool(true) }
    #expect(loads.map { $0["model"] } == [.string("caravan-small-mf"), .string("gemma:7b")])
    let cold = requests.filter { $0["endpoint"] == .string("/api/generate") && $0["model"] == .string("gemma:7b") && $0["load"] == nil }
    #expect(cold.count == 10)
    #expect(cold.allSatisfy { $0["options"] == .object(["temperature": .int(0), "top_k": .int(3)]) })
    let warm = requests.filter { $0["model"] == .string("caravan-small-mf") && $0["endpoint"] == .string("/api/chat") }
    #expect(warm.count == 10)
    #expect(warm.allSatisfy { $0["effective_options"]?["temperature"] == .double(0.7) })
  }

  @Test func resumesAfterATornWriteWithoutDuplicates() async throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let sim = try SimulatorProcess(arguments: ["--models", "gemma:7b"])
    // First attempt: stopped after a few records, as on SIGTERM.
    let stop = StopFlag()
    stop.set()
    let first = try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: stop)
    #expect(first.written == 0 && first.stopped)
    // Simulate a crash mid-write: two good records, then half a line.
    let items = try prepared.run.shardItems(0)
    let resultsPath = prepared.run.layout.resultFile(0)
    let encoder = JSONLines.lineEncoder()
    var data = Data()
    for item in items.prefix(2) {
      data.append(try encoder.encode(ResultRecord(item: item, status: .ok, node: "earlier", shard: 0, attempts: 1, wallMs: 1, finishedAt: "t")))
      data.append(UInt8(ascii: "\n"))
    }
    data.append(Data(#"{"seq":2,"id":"p2","varia"#.utf8))
    try data.write(to: URL(fileURLWithPath: resultsPath))

    let outcome = try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.alreadyDone == 2 && outcome.written == 18)
    let records = try prepared.run.results(0)
    #expect(records.count == 20)
    #expect(Set(records.map(\.key)) == Set(items.map(\.key)))
    #expect(records.prefix(2).allSatisfy { $0.node == "earlier" })
    let report = try Collector.collect(prepared.run)
    #expect(report.complete && report.repeated.isEmpty && report.recorded == 20)
  }

  @Test func missingModelFailsTheShardWithThePullCommand() async throws {
    let prepared = try prepareRun(spec: smallSpec.replacingOccurrences(of: "model: gemma:7b", with: "model: llama3:8b").replacingOccurrences(of: "FROM gemma:7b", with: "FROM llama3:8b"), prompts: smallPrompts)
    let sim = try SimulatorProcess(arguments: ["--models", "gemma:7b"])
    await #expect(throws: WorkerError.self) {
      _ = try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    }
    do {
      _ = try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    } catch {
      #expect("\(error)".contains("llama3:8b"))
    }
    // Nothing was recorded: after `ollama pull` the same shard runs from the start.
    #expect(try prepared.run.results(0).isEmpty)
  }

  @Test func errorsInTheMiddleOfAStreamAreRetriedAndNeverKeptAsPartialText() async throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let sim = try SimulatorProcess(arguments: ["--models", "gemma:7b", "--mid-stream-error-every", "3"])
    var w = worker(prepared.run)
    // One stream in three fails whoever sends it, so an item can be unlucky several times running.
    w.retry.maxAttempts = 30
    let outcome = try await w.run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.written == 20 && outcome.errors == 0)
    let records = try prepared.run.results(0)
    #expect(records.contains { $0.attempts > 1 }, "every third stream failed, so some items needed another try")
    for record in records {
      // The response is the whole answer: as many words as the server says it generated.
      #expect(record.response?.split(separator: " ").count == record.evalCount, "\(record.key): \(record.response ?? "")")
      let ttft = try #require(record.ttftMs)
      #expect(ttft > 0 && ttft <= record.wallMs)
    }
  }

  @Test func queueFullAnswersAreRetriedAndCounted() async throws {
    let prepared = try prepareRun(spec: smallSpec.replacingOccurrences(of: "parallel: 3", with: "parallel: 6"), prompts: smallPrompts)
    // One slot and no queue: most concurrent requests get 503 and must be retried.
    let sim = try SimulatorProcess(arguments: ["--models", "gemma:7b", "--slots", "1", "--queue", "0", "--token-ms", "5"])
    var w = worker(prepared.run)
    w.parallel = 6
    w.retry.maxAttempts = 50
    let outcome = try await w.run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.written == 20 && outcome.errors == 0)
    let records = try prepared.run.results(0)
    #expect(records.contains { $0.attempts > 1 }, "with one slot and six in flight some requests must have been retried")
  }
}

@Suite struct RunDirectoryTests {
  @Test func badPromptFileWritesNothing() throws {
    let dir = try TestPaths.temporaryDirectory("bad")
    try smallSpec.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    try "{\"id\": \"a\", \"prompt\": \"x\"}\n{not json}\n".write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    let preparer = RunPreparer(caravanPath: "/usr/bin/true", simulatorPath: "/usr/bin/true", version: "test")
    #expect(throws: InputError.self) { try preparer.prepare(specPath: dir.appendingPathComponent("job.yaml").path, runDir: nil) }
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
  }

  @Test func runDirectoryIsPrivateAndComplete() throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let attributes = try FileManager.default.attributesOfItem(atPath: prepared.run.path)
    #expect((attributes[.posixPermissions] as? Int) == 0o700)
    for path in [prepared.run.layout.manifest, prepared.run.layout.resolvedSpec, prepared.run.layout.specCopy, prepared.run.layout.script, prepared.run.layout.shardFile(0)] {
      #expect(FileManager.default.fileExists(atPath: path), "\(path)")
    }
    for folder in ["results", "logs", "shards"] {
      #expect(FileManager.default.fileExists(atPath: prepared.run.path + "/" + folder))
    }
    let manifest = try prepared.run.manifest()
    #expect(manifest.totalItems == 20 && manifest.shards.map(\.items) == [20])
    // No staging folder is left beside it.
    let siblings = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: prepared.run.path).deletingLastPathComponent().path)
    #expect(siblings.count == 1)
  }

  @Test func tornLastLineIsDroppedAndCutBeforeAppending() async throws {
    let dir = try TestPaths.temporaryDirectory("jsonl")
    let path = dir.appendingPathComponent("r.jsonl").path
    try "{\"a\":1}\n{\"a\":2}\n{\"a\":".write(toFile: path, atomically: true, encoding: .utf8)
    let read = try JSONLines.read(JSONValue.self, from: path)
    #expect(read.values == [.object(["a": .int(1)]), .object(["a": .int(2)])])
    let file = try AppendOnlyFile(path: path, intactBytes: read.intactBytes)
    try await file.append(JSONValue.object(["a": .int(3)]))
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n")
  }
}

@Suite struct ReadinessTests {
  @Test func readyOnceTheServerAnswers() async throws {
    let sim = try SimulatorProcess()
    // No timing bound here: on a loaded machine the wait may be slow, and that is not a failure.
    try await Readiness(client: OllamaClient(baseURL: sim.url), serverPID: sim.pid, logPath: nil, timeout: .seconds(60)).wait()
    #expect(await OllamaClient(baseURL: sim.url).isRunning())
  }

  @Test func failsFastWithTheLogTailWhenTheServerExits() async throws {
    let dir = try TestPaths.temporaryDirectory("ready")
    let log = dir.appendingPathComponent("server.log")
    try "starting\nError: could not create directory /home/x/.ollama: read-only file system\n".write(to: log, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "exit 1"]
    try process.run()
    process.waitUntilExit()
    let port = try freePort()
    do {
      try await Readiness(client: OllamaClient(baseURL: "http://127.0.0.1:\(port)"), serverPID: process.processIdentifier, logPath: log.path, timeout: .seconds(60)).wait()
      Issue.record("wait() returned although the server had exited")
    } catch let error as ReadinessError {
      // It gave up because the process was gone, not because the 60 s ran out.
      #expect(error.description.contains("exited before it answered"))
      #expect(!error.description.contains("did not answer within"))
      #expect(error.description.contains("read-only file system"))
    }
  }

  @Test func timesOutWhenNothingAnswers() async throws {
    let port = try freePort()
    await #expect(throws: ReadinessError.self) {
      try await Readiness(client: OllamaClient(baseURL: "http://127.0.0.1:\(port)"), serverPID: nil, logPath: nil, timeout: .milliseconds(500)).wait()
    }
  }
}
