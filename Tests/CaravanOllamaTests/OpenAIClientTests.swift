import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanOllama

/// Real llama.cpp server output (Tests/Fixtures/openai, recorded from xllamacpp).
func openAIFixture(_ name: String) throws -> Data {
  try Data(contentsOf: TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/openai/\(name)"))
}

/// Feeds a recorded event stream to the parser line by line, as the client does.
func parseStream(_ name: String) throws(OllamaError) -> Completion? {
  let data: Data
  do { data = try openAIFixture(name) } catch { throw .decoding("fixture \(name): \(error)") }
  let start = ContinuousClock.now
  var stream = OpenAIStream(started: start)
  for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
    // Each event arrives a millisecond after the one before.
    if let completion = try stream.read(Data(line), at: start + .milliseconds(index + 1)) { return completion }
  }
  return nil
}

@Suite struct OpenAIStreamTests {
  @Test func chatStreamGivesTheTextUsageAndLlamaCppTimings() throws {
    let completion = try #require(try parseStream("chat-stream.sse"))
    #expect(completion.response == " strange often as one few fly had white")
    #expect(completion.doneReason == "length")
    // prompt_eval_count is what the server evaluated (prompt_n), not the cached prompt tokens.
    #expect(completion.timings.promptEvalCount == 1)
    #expect(completion.timings.evalCount == 8)
    #expect(completion.timings.promptEvalDuration == 42_116_000)
    #expect(completion.timings.evalDuration == 1_524_000)
    #expect(completion.timings.source == .engine)
    #expect(completion.timeToFirstToken != nil)
  }

  @Test func completionStreamCarriesUsageOnItsFinishChunk() throws {
    let completion = try #require(try parseStream("completion-stream.sse"))
    #expect(!completion.response.isEmpty)
    #expect(completion.doneReason == "length")
    #expect(completion.timings.evalCount == 8)
    #expect(completion.timings.source == .engine)
  }

  /// Without usage (and timings), prefill is the time to the first token and decode the rest.
  @Test func withoutServerTimingsTheClientMeasures() throws {
    let data = Data("""
      data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}

      data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}

      data: {"choices":[{"index":0,"delta":{"content":" there"}}]}

      data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

      data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}

      data: [DONE]

      """.utf8)
    let start = ContinuousClock.now
    var stream = OpenAIStream(started: start)
    var completion: Completion?
    for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
      completion = try stream.read(Data(line), at: start + .milliseconds(10 * (index + 1))) ?? completion
    }
    let done = try #require(completion)
    #expect(done.response == "Hi there" && done.doneReason == "stop")
    #expect(done.timings.source == .client)
    #expect(done.timings.promptEvalCount == 9 && done.timings.evalCount == 2)
    // "Hi" was the 2nd line (20 ms); [DONE] the 6th (60 ms).
    #expect(done.timings.promptEvalDuration == 20_000_000)
    #expect(done.timings.evalDuration == 40_000_000)
    #expect(done.timings.totalDuration == 60_000_000)
  }

  /// A server's nonsense timings (1e300 ms) trapped converting to Int; they saturate.
  @Test func nonsenseServerTimingsSaturate() throws {
    let data = Data("""
      data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}

      data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"timings":{"prompt_n":1,"prompt_ms":1e300,"predicted_n":1,"predicted_ms":-1e300}}

      data: [DONE]

      """.utf8)
    let start = ContinuousClock.now
    var stream = OpenAIStream(started: start)
    var completion: Completion?
    for line in data.split(separator: UInt8(ascii: "\n")) {
      completion = try stream.read(Data(line), at: start + .milliseconds(5)) ?? completion
    }
    let done = try #require(completion)
    #expect(done.timings.promptEvalDuration == .max)
    #expect(done.timings.evalDuration == .min)
  }

  /// Pull progress from a server that reports more than it promised, or less than nothing.
  @Test func pullProgressIsHeldToItsTotal() {
    #expect(PullProgress(.object(["status": .string("x"), "total": .int(10), "completed": .int(.max)])).progress! == (10, 10))
    #expect(PullProgress(.object(["status": .string("x"), "total": .int(10), "completed": .int(-3)])).progress! == (0, 10))
    #expect(PullProgress(.object(["status": .string("x"), "total": .int(0), "completed": .int(3)])).progress == nil)
  }

  /// A server that dies mid-answer sends no `[DONE]`: the stream is not a completion.
  @Test func aCutStreamIsNotAnAnswer() throws {
    #expect(try parseStream("chat-stream-cut.sse") == nil)
  }

  /// Keep-alive comments (`:`) while a long prompt is read are skipped.
  @Test func keepAliveCommentsAreSkipped() throws {
    let completion = try #require(try parseStream("chat-stream-ping-progress.sse"))
    #expect(completion.doneReason != nil)
  }

  @Test func anErrorEventFailsTheRequestAsRetryable() {
    var stream = OpenAIStream(started: .now)
    #expect {
      _ = try stream.read(Data(#"data: {"error": {"message": "slot crashed", "code": 500}}"#.utf8), at: .now)
    } throws: { error in
      (error as? OllamaError) == .midStream("slot crashed") && (error as? OllamaError)?.isRetryable == true
    }
  }

  @Test func errorBodiesGiveTheirMessage() throws {
    for name in ["error-exceed-context.json", "error-missing-messages.json", "error-bad-type.json", "health-loading.json"] {
      let message = OpenAIClient.errorMessage(.init(bytes: try openAIFixture(name)))
      #expect(!message.isEmpty && !message.hasPrefix("{"), "\(name): \(message)")
    }
  }
}

@Suite struct OpenAIRequestTests {
  func item(_ input: PromptInput, options: Options) -> WorkItem {
    WorkItem(seq: 0, id: "a", variant: "v", repeat: 1, model: "tiny", input: input, options: options)
  }

  @Test func optionsAreMappedToOpenAIFieldsAndExtensions() {
    let (path, body) = OpenAIRequest.body(for: item(
      .messages([ChatMessage(role: "user", content: "hi")]),
      options: ["temperature": .double(0.2), "num_predict": .int(64), "top_k": .int(3), "min_p": .double(0.05),
                "repeat_penalty": .double(1.1), "seed": .int(7), "stop": .array([.string("\n")]), "top_p": .double(0.9)]))
    #expect(path == "/v1/chat/completions")
    #expect(body["max_tokens"] == .int(64) && body["num_predict"] == nil)
    #expect(body["top_k"] == .int(3) && body["min_p"] == .double(0.05))
    #expect(body["repeat_penalty"] == .double(1.1) && body["repetition_penalty"] == .double(1.1))
    #expect(body["seed"] == .int(7) && body["temperature"] == .double(0.2) && body["top_p"] == .double(0.9))
    #expect(body["stream"] == .bool(true) && body["stream_options"]?["include_usage"] == .bool(true))
    #expect(body["messages"]?.arrayValue?.count == 1 && body["model"] == .string("tiny"))
  }

  @Test func ollamasNoValueSentinelsAreLeftOut() {
    let (path, body) = OpenAIRequest.body(for: item(.prompt("The river"), options: ["seed": .int(-1), "num_predict": .int(-1)]))
    #expect(path == "/v1/completions" && body["prompt"] == .string("The river"))
    #expect(body["seed"] == nil && body["max_tokens"] == nil)
  }

  @Test func optionsAServerCannotHonourAreNamed() {
    #expect(OpenAIRequest.refusal(option: "temperature") == nil)
    #expect(OpenAIRequest.refusal(option: "num_ctx")?.contains("command line") == true)
    #expect(OpenAIRequest.refusal(option: "typical_p")?.contains("typical_p") == true)
  }
}
