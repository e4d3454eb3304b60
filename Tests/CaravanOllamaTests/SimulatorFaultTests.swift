import AsyncHTTPClient
import CaravanCore
import CaravanTestSupport
import Foundation
import NIOCore
import Testing

/// The simulator's fault injection and model loading, checked over HTTP against Ollama's documented
/// bodies: tests of the worker's retries are only as good as the faults they face.
@Suite struct SimulatorFaultTests {
  func post(_ url: String, _ body: String) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), String(buffer: bytes))
  }

  func stats(_ sim: SimulatorProcess) async throws -> JSONValue {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: sim.url + "/sim/stats"), timeout: .seconds(30))
    return try decode(String(buffer: try await response.body.collect(upTo: 1 << 20)))
  }

  /// The 503 body errors.ndjson documents for a full queue.
  func documentedQueueFull() throws -> JSONValue {
    let line = try fixture("errors.ndjson").split(separator: "\n").map(decode).first { $0["status"] == .int(503) }
    return try #require(line?["body"])
  }

  @Test func burstsOf503FollowEveryNAcceptedRequests() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--burst-503", "3:2", "--token-ms", "0", "--load-ms", "0"])
    var statuses: [Int] = []
    for index in 0..<10 {
      // Chat and generate requests count alike.
      let answer = index % 2 == 0
        ? try await post(sim.url + "/api/generate", #"{"model":"m","prompt":"hi","stream":false}"#)
        : try await post(sim.url + "/api/chat", #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false}"#)
      statuses.append(answer.status)
      if answer.status == 503 { #expect(try decode(answer.body) == (try documentedQueueFull())) }
    }
    #expect(statuses == [200, 200, 200, 503, 503, 200, 200, 200, 503, 503])
    #expect(try await stats(sim)["burst_rejected"] == .int(4))
  }

  @Test func malformedBurstIsRefusedAtStart() async throws {
    for value in ["3", "0:2", "3:x", "-1:1"] {
      let result = try await runCommand(try TestPaths.binary("ollama-sim"), ["--burst-503", value])
      #expect(result.status == 64, "--burst-503 \(value): \(result.stderr)")
      #expect(result.stderr.contains("EVERY:LENGTH"))
    }
  }

  @Test func chatWithoutMessagesLoadsTheModelAsDocumented() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--load-ms", "50"])
    let documented = try decode(fixture("chat-load.json"))
    for body in [#"{"model":"llama3.2","messages":[]}"#, #"{"model":"llama3.2","messages":[],"stream":false}"#, #"{"model":"llama3.2"}"#] {
      let answer = try await post(sim.url + "/api/chat", body)
      #expect(answer.status == 200)
      // One object, streamed or not, with exactly the documented keys.
      #expect(answer.body.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(body): \(answer.body)")
      let object = try decode(answer.body)
      #expect(object.objectValue.map { Set($0.keys) } == documented.objectValue.map { Set($0.keys) }, "\(body): \(answer.body)")
      #expect(object["done_reason"] == .string("load") && object["done"] == .bool(true))
      #expect(object["message"] == documented["message"])
      #expect(object["model"] == .string("llama3.2"))
    }
  }

  @Test func generateWithoutPromptLoadsTheModelAsDocumented() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--load-ms", "50"])
    for body in [#"{"model":"llama3.2"}"#, #"{"model":"llama3.2","prompt":""}"#, #"{"model":"llama3.2","prompt":"","stream":false}"#] {
      let answer = try await post(sim.url + "/api/generate", body)
      #expect(answer.status == 200)
      #expect(answer.body.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(body): \(answer.body)")
      let object = try decode(answer.body)
      // Ollama's GenerateResponse for a load: no timings, an empty response.
      #expect(object.objectValue.map { Set($0.keys) } == ["model", "created_at", "response", "done", "done_reason"], "\(body): \(answer.body)")
      #expect(object["done_reason"] == .string("load") && object["done"] == .bool(true) && object["response"] == .string(""))
    }
  }

  @Test func loadTimeIsPaidOncePerModelByItsFirstUse() async throws {
    let loadMs = 1000
    let sim = try await SimulatorProcess.start(arguments: ["--load-ms", String(loadMs), "--token-ms", "0"])
    func loadDuration(_ model: String) async throws -> Int {
      let answer = try await post(sim.url + "/api/generate", #"{"model":"\#(model)","prompt":"hi","stream":false}"#)
      #expect(answer.status == 200)
      return try #require(try decode(answer.body)["load_duration"]?.intValue)
    }
    // The first request for a model waits for the load; the next ones find it loaded.
    let first = try await loadDuration("a")
    #expect(first >= loadMs * 1_000_000)
    let second = try await loadDuration("a")
    #expect(second < first)
    // Another model is loaded on its own first use.
    #expect(try await loadDuration("b") >= loadMs * 1_000_000)

    // A load request pays the load, so the first generation after it does not.
    let started = ContinuousClock.now
    let load = try await post(sim.url + "/api/chat", #"{"model":"c","messages":[]}"#)
    #expect(load.status == 200)
    #expect(ContinuousClock.now - started >= .milliseconds(loadMs))
    #expect(try await loadDuration("c") < loadMs * 1_000_000)
    // Loading it again costs nothing more.
    #expect(try decode(try await post(sim.url + "/api/generate", #"{"model":"c"}"#).body)["done_reason"] == .string("load"))
  }

  @Test func midStreamErrorsKeepTheDocumentedShape() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--mid-stream-error-every", "2", "--token-ms", "0", "--load-ms", "0"])
    let documented = try decode(fixture("errors.ndjson").split(separator: "\n").last!)
    var failed = 0
    for _ in 0..<4 {
      let answer = try await post(sim.url + "/api/chat", #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
      #expect(answer.status == 200)
      let lines = try answer.body.split(separator: "\n").map(decode)
      if let last = lines.last, last["error"] != nil {
        failed += 1
        #expect(last == documented["stream"]?.arrayValue?.last)
        #expect(lines.allSatisfy { $0["done"] != .bool(true) })
      }
    }
    #expect(failed == 2)
  }
}
