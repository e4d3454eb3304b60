import CaravanStorage
import CaravanRun
import CaravanCore
import CaravanOllama
import CaravanTestSupport
import Foundation
import Logging
import Testing

@testable import CaravanWorker

@Suite struct ShardWorkerTests {
  func worker(_ run: RunDirectory) -> ShardWorker {
    var worker = ShardWorker(run: run, shard: 0, parallel: 3, node: "testnode", jobID: "1_0", logger: Logger(label: "test"))
    worker.retry.baseDelay = .milliseconds(10)
    return worker
  }

  @Test func recordsEveryItemOnceWithOptionsAndTimings() async throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let log = prepared.run.layout.root + "/requests.jsonl"
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b", "--slots", "3", "--request-log", log])
    let outcome = try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.written == 20 && outcome.errors == 0 && !outcome.stopped)

    let records = try prepared.run.results(0)
    #expect(Set(records.map(\.key)).count == 20)
    #expect(records.count == 20)
    for record in records {
      #expect(record.status == .ok)
      #expect(record.node == "testnode" && record.shard == 0 && record.attempts == 1)
      #expect((record.timings.evalCount ?? 0) > 0 && (record.timings.evalDuration ?? 0) > 0 && (record.timings.totalDuration ?? 0) > 0)
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
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b"])
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
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b"])
    let error = await #expect(throws: WorkerError.self) {
      try await worker(prepared.run).run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    }
    #expect(error?.description.contains("caravan models pull llama3:8b") == true, "\(error?.description ?? "")")
    // Nothing was recorded: after `ollama pull` the same shard runs from the start.
    #expect(try prepared.run.results(0).isEmpty)
  }

  @Test func errorsInTheMiddleOfAStreamAreRetriedAndNeverKeptAsPartialText() async throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b", "--mid-stream-error-every", "3"])
    var w = worker(prepared.run)
    // One stream in three fails whoever sends it, so an item can be unlucky several times running.
    w.retry.maxAttempts = 30
    let outcome = try await w.run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.written == 20 && outcome.errors == 0)
    let records = try prepared.run.results(0)
    #expect(records.contains { $0.attempts > 1 }, "every third stream failed, so some items needed another try")
    for record in records {
      // The response is the whole answer: as many words as the server says it generated.
      #expect(record.response?.split(separator: " ").count == record.timings.evalCount, "\(record.key): \(record.response ?? "")")
      let ttft = try #require(record.ttftMs)
      #expect(ttft > 0 && ttft <= record.wallMs)
    }
  }

  @Test func queueFullAnswersAreRetriedAndCounted() async throws {
    let prepared = try prepareRun(spec: smallSpec.replacingOccurrences(of: "parallel: 3", with: "parallel: 6"), prompts: smallPrompts)
    // One slot and no queue: most concurrent requests get 503 and must be retried.
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b", "--slots", "1", "--queue", "0", "--token-ms", "5"])
    var w = worker(prepared.run)
    w.parallel = 6
    w.retry.maxAttempts = 50
    let outcome = try await w.run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    #expect(outcome.written == 20 && outcome.errors == 0)
    let records = try prepared.run.results(0)
    #expect(records.contains { $0.attempts > 1 }, "with one slot and six in flight some requests must have been retried")
  }
}
