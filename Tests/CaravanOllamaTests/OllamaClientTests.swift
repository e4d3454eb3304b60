import AsyncHTTPClient
import CaravanCore
import CaravanTestSupport
import Foundation
import NIOCore
import Testing

@testable import CaravanOllama

/// One of Ollama's documented wire examples (Tests/Fixtures/ollama).
func fixture(_ name: String) throws -> String {
  try String(contentsOf: TestPaths.ollamaExample(name), encoding: .utf8)
}

func decode(_ text: some StringProtocol) throws -> JSONValue {
  try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

@Suite struct CompletionParsingTests {
  @Test func chatAnswerAndTimingsFromTheDocumentedExample() throws {
    let completion = Completion(ollama: try decode(fixture("chat-nostream.json")))
    #expect(completion.response == "Hello! How are you today?")
    #expect(completion.doneReason == "stop")
    #expect(completion.timings.totalDuration == 5_191_566_416)
    #expect(completion.timings.loadDuration == 2_154_458)
    #expect(completion.timings.promptEvalCount == 26)
    #expect(completion.timings.promptEvalDuration == 383_809_000)
    #expect(completion.timings.evalCount == 298)
    #expect(completion.timings.evalDuration == 4_799_921_000)
  }

  @Test func generateAnswerUsesResponseNotMessage() throws {
    let completion = Completion(ollama: try decode(fixture("generate-nostream.json")))
    #expect(completion.response == "The sky is blue because it is the color of the sky.")
    #expect(completion.timings.evalCount == 290)
  }
}

/// The simulator must answer as Ollama documents, or tests against it prove nothing.
/// What the worker relies on when a server on its node dies.
@Suite struct DeadServerTests {
  /// A request to a port nothing listens on fails with the refusal, as a dead server's requests
  /// must: the worker restarts the server and sends them again. `HTTPClient.shared` would retry
  /// the connection for 90 s first (seen: a shard that took 95 s to notice a dead server).
  @Test(.timeLimit(.minutes(1))) func aRefusedConnectionFailsTheRequestAtOnce() async throws {
    let client = OllamaClient(baseURL: "http://127.0.0.1:\(try freePort())")
    let error = await #expect(throws: OllamaError.self, "a request to a closed port succeeded") {
      try await client.load(model: "gemma:7b")
    }
    #expect(error?.isRetryable == true, "a refused connection is worth another try after a restart: \(error?.description ?? "")")
    #expect(error?.description.contains("Connection refused") == true, "\(error?.description ?? "")")
  }
}

@Suite struct SimulatorFidelityTests {
  func post(_ url: String, _ body: String) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), String(buffer: bytes))
  }

  func documentedErrors() throws -> [Int: String] {
    var result: [Int: String] = [:]
    for line in try fixture("errors.ndjson").split(separator: "\n") {
      let object = try decode(line)
      if let status = object["status"]?.intValue, let message = object["body"]?["error"]?.stringValue { result[status] = message }
    }
    return result
  }

  @Test func healthAndVersion() async throws {
    let sim = try await SimulatorProcess.start()
    let client = OllamaClient(baseURL: sim.url)
    #expect(await client.isRunning())
    #expect(try await client.version().isEmpty == false)
  }

  @Test func unknownModelGetsTheDocumented404() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--models", "llama3.2"])
    let answer = try await post(sim.url + "/api/chat", #"{"model":"gemma:7b","messages":[{"role":"user","content":"hi"}]}"#)
    #expect(answer.status == 404)
    #expect(try decode(answer.body) == .object(["error": .string(try documentedErrors()[404]!)]))
    let client = OllamaClient(baseURL: sim.url)
    let item = WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "gemma:7b", input: .prompt("hi"), options: [:])
    await #expect(throws: OllamaError.server(status: 404, message: try documentedErrors()[404]!)) { try await client.complete(item) }
  }

  @Test(.timeLimit(.minutes(1))) func fullQueueGetsTheDocumented503() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--slots", "1", "--queue", "0", "--token-ms", "1000"])  // holds its slot 8-24 s, even on a loaded machine
    async let slow = post(sim.url + "/api/generate", #"{"model":"m","prompt":"hold the slot","stream":false}"#)
    // Send the second request once the first holds the one slot (the simulator's own count).
    while await !httpGet(port: sim.port, path: "/sim/stats").contains(#""in_flight":1"#) { try await Task.sleep(for: .milliseconds(20)) }
    let rejected = try await post(sim.url + "/api/generate", #"{"model":"m","prompt":"x","stream":false}"#)
    #expect(rejected.status == 503)
    #expect(try decode(rejected.body)["error"]?.stringValue == (try documentedErrors()[503]))
    #expect(try await slow.status == 200)
  }

  @Test func missingModelFieldGetsThe400() async throws {
    let sim = try await SimulatorProcess.start()
    let answer = try await post(sim.url + "/api/chat", #"{"messages":[]}"#)
    #expect(answer.status == 400)
    #expect(try decode(answer.body)["error"]?.stringValue == (try documentedErrors()[400]))
  }

  @Test func legacyCreateFormIsRejectedAsOllamaDoes() async throws {
    let sim = try await SimulatorProcess.start()
    let legacy = try decode(fixture("create-legacy-request.json"))
    let body = String(decoding: try JSONEncoder().encode(legacy["request"]!), as: UTF8.self)
    let answer = try await post(sim.url + "/api/create", body)
    #expect(answer.status == legacy["status"]?.intValue)
    #expect(try decode(answer.body) == legacy["response"])
  }

  @Test func currentCreateFormStreamsStatusesEndingInSuccess() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b"])
    let answer = try await post(sim.url + "/api/create", try fixture("create-request.json"))
    #expect(answer.status == 200)
    let statuses = try answer.body.split(separator: "\n").map { try decode($0)["status"]?.stringValue }
    #expect(statuses.last == "success")
    let documented = try fixture("create-stream.ndjson").split(separator: "\n").count
    #expect(statuses.count == documented)
  }

  @Test func streamedChatHasTheDocumentedShape() async throws {
    let sim = try await SimulatorProcess.start()
    let answer = try await post(sim.url + "/api/chat", #"{"model":"llama3.2","messages":[{"role":"user","content":"Why is the sky blue?"}]}"#)
    let lines = try answer.body.split(separator: "\n").map(decode)
    let documented = try fixture("chat-stream.ndjson").split(separator: "\n").map(decode)
    #expect(lines.count >= 2)
    // Same keys as the documentation on chunks and on the final line.
    #expect(Set(lines[0].objectValue!.keys) == Set(documented[0].objectValue!.keys))
    #expect(Set(lines.last!.objectValue!.keys) == Set(documented.last!.objectValue!.keys))
    #expect(lines.dropLast().allSatisfy { $0["done"] == .bool(false) })
    #expect(lines.last?["done"] == .bool(true))
    #expect(lines.last?["message"]?["content"] == .string(""))
    #expect(lines.last?["eval_count"]?.intValue == lines.count - 1)
  }

  @Test func temperatureZeroIsRepeatableAndHigherTemperatureVaries() async throws {
    let sim = try await SimulatorProcess.start()
    let client = OllamaClient(baseURL: sim.url)
    func answers(_ temperature: Double) async throws -> Set<String> {
      var seen: Set<String> = []
      for r in 1...6 {
        let item = WorkItem(seq: 0, id: "a", variant: "v", repeat: r, model: "m", input: .prompt("Write a birthday message"), options: ["temperature": .double(temperature)])
        seen.insert(try await client.complete(item).response)
      }
      return seen
    }
    #expect(try await answers(0).count == 1)
    #expect(try await answers(1.0).count > 1)
  }
}
