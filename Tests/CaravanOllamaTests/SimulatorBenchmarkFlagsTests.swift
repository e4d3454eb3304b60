import AsyncHTTPClient
import CaravanCore
import CaravanTestSupport
import Foundation
import NIOCore
import Testing

/// The simulator's flags for benchmarks (scripts/bench): a fixed service time, a fixed answer
/// length, and the moment it started listening. A benchmark's ideal makespan is N·t/S only if
/// every request really holds its slot t.
@Suite struct SimulatorBenchmarkFlagsTests {
  func chat(_ sim: SimulatorProcess, stream: Bool) async throws -> (seconds: Double, lines: [JSONValue]) {
    var request = HTTPClientRequest(url: sim.url + "/api/chat")
    request.method = .POST
    request.body = .bytes(ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"a long question with many words in it"}],"stream":\#(stream)}"#))
    let started = ContinuousClock.now
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
    let seconds = (ContinuousClock.now - started).seconds
    return (seconds, try body.split(separator: "\n").map { try decode(String($0)) })
  }

  @Test func serviceTimeAndAnswerLengthAreFixed() async throws {
    let sim = try await SimulatorProcess.start(arguments: ["--service-ms", "300", "--answer-tokens", "12", "--load-ms", "0", "--prompt-token-us", "500000"])
    let streamed = try await chat(sim, stream: true)
    // 12 token lines and the final one, after at least the service time. (An upper bound on the
    // wall time failed under the full suite's load at 3.8 s, so none is asserted.)
    #expect(streamed.lines.count == 13)
    #expect(streamed.lines.last?["eval_count"] == .int(12))
    #expect(streamed.seconds >= 0.3, "took \(streamed.seconds) s")
    let whole = try await chat(sim, stream: false)
    #expect(whole.lines.count == 1 && whole.lines[0]["eval_count"] == .int(12))
    #expect(whole.seconds >= 0.3, "took \(whole.seconds) s")
  }

  @Test func listeningFileHoldsTheMomentItListened() async throws {
    let folder = try TestPaths.temporaryDirectory()
    let file = folder.appendingPathComponent("listening").path
    let before = Date().timeIntervalSince1970
    let sim = try await SimulatorProcess.start(arguments: ["--listening-file", file])
    let stamp = try #require(Double(try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(stamp >= before - 1 && stamp <= Date().timeIntervalSince1970)
    _ = await sim.stop()
  }

  @Test func answerTokensOutOfRangeIsRefused() async throws {
    let result = try await runCommand(try TestPaths.binary("ollama-sim"), ["--answer-tokens", "-1"])
    #expect(result.status == 64, "\(result.stderr)")
  }
}
