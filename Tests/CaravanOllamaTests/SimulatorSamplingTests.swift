import AsyncHTTPClient
import CaravanCore
import CaravanTestSupport
import Foundation
import NIOCore
import Testing

/// The simulator's text under the tutorial's four Modelfiles, over HTTP as the worker asks for
/// it in jobs/tutorial-sim.yaml: a rehearsal only teaches the tutorial's lesson if low
/// temperatures repeat themselves and high ones do not, as a real model's answers do.
@Suite struct SimulatorSamplingTests {
  static let prompt = "Write a happy birthday message, I would like to send to my friend."

  func post(_ url: String, _ body: JSONValue) async throws -> JSONValue {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
    #expect(response.status.code == 200, "\(url): \(text)")
    return try decode(text)
  }

  /// Creates a model with these parameters, as a variant's Modelfile does, and asks it the
  /// tutorial's birthday message `repeats` times (a chat, as tutorial-prompts.jsonl has it).
  func answers(_ sim: SimulatorProcess, variant: String, parameters: [String: JSONValue], options: [String: JSONValue] = [:], repeats: Int = 5) async throws -> [String] {
    // The model name the rehearsal gives this variant (Plan's `caravan-<job>-<variant>`).
    let model = "caravan-tutorial-sim-\(variant)"
    _ = try await post(sim.url + "/api/create", .object(["model": .string(model), "from": .string("gemma:7b"), "parameters": .object(parameters), "stream": .bool(false)]))
    var texts: [String] = []
    for _ in 0..<repeats {
      let message = JSONValue.object(["role": .string("user"), "content": .string(Self.prompt)])
      let answer = try await post(sim.url + "/api/chat", .object(["model": .string(model), "messages": .array([message]), "options": .object(options), "stream": .bool(false)]))
      texts.append(try #require(answer["message"]?["content"]?.stringValue))
    }
    return texts
  }

  @Test func theTutorialsModelfilesGiveTheTutorialsLesson() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--token-ms", "0", "--load-ms", "0"])
    let low = try await answers(sim, variant: "low-temp", parameters: ["temperature": .double(0.1)])
    let high = try await answers(sim, variant: "high-temp", parameters: ["temperature": .double(1.0)])
    let topK3 = try await answers(sim, variant: "top-k-3", parameters: ["temperature": .double(0.5), "top_k": .int(3)])
    let topK200 = try await answers(sim, variant: "top-k-200", parameters: ["temperature": .double(0.5), "top_k": .int(200)])
    #expect(Set(low).count <= 2, "temperature 0.1 should repeat itself: \(low)")
    #expect(Set(high).count >= 4, "temperature 1.0 should vary: \(high)")
    // At 0.5 the repeats mostly share their words, the odd one swapped; how many of 5 differ
    // is chance (1 to 5 all occur), so only that they answer is asserted.
    #expect(topK3.allSatisfy { !$0.isEmpty } && topK200.allSatisfy { !$0.isEmpty })
  }

  @Test func temperatureZeroAndAFixedSeedRepeatExactly() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--token-ms", "0", "--load-ms", "0"])
    let greedy = try await answers(sim, variant: "greedy", parameters: ["temperature": .int(0)], repeats: 3)
    #expect(Set(greedy).count == 1)
    let seeded = try await answers(sim, variant: "seeded", parameters: ["temperature": .double(1.5), "top_k": .int(200), "top_p": .int(1)], options: ["seed": .int(42)], repeats: 3)
    #expect(Set(seeded).count == 1)
    let unseeded = try await answers(sim, variant: "seeded", parameters: ["temperature": .double(1.5), "top_k": .int(200), "top_p": .int(1)], repeats: 3)
    #expect(Set(unseeded).count > 1)
  }
}
