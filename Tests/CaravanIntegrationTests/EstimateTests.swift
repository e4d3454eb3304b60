import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// `caravan estimate` on the simulator: after one calibration run it predicts a run twice its
/// size, which is then run for real and measured.
@Suite struct EstimateTests {
  func writeSpec(_ name: String, prompts: Int, in dir: URL, extra: String = "executor: local") throws -> String {
    let sim = try TestPaths.binary("ollama-sim")
    try (1...prompts).map { #"{"id": "p\#($0)", "prompt": "Tell me a short story about the number \#($0) and the sea"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("\(name).jsonl"), atomically: true, encoding: .utf8)
    try """
      name: est
      model: gemma:7b
      prompts: \(name).jsonl
      output: runs
      \(extra)
      engine:
        kind: sim
        parallel: 2
        command: exec '\(sim)' --models gemma:7b --token-ms 50 --slots 2
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
    return "\(name).yaml"
  }

  @Test func aCalibrationRunPredictsARunTwiceItsSizeWithin25Percent() async throws {
    let dir = try TestPaths.temporaryDirectory("estimate")
    let small = try writeSpec("small", prompts: 12, in: dir)
    let large = try writeSpec("large", prompts: 24, in: dir)

    // Nothing to learn from yet: said, with what to run.
    let none = try await caravan(["estimate", large], in: dir)
    #expect(none.status == 1 && none.stderr.contains("--calibrate"), "\(none.stderr)")

    let calibrated = try await caravan(["estimate", small, "--calibrate", "12", "--json"], in: dir)
    #expect(calibrated.status == 0, "\(calibrated.stderr)")
    let estimate = try await caravan(["estimate", large, "--json"], in: dir)
    #expect(estimate.status == 0, "\(estimate.stderr)")
    let prediction = try jsonObject(estimate.stdout)
    let wall = try #require(prediction["wall_seconds"] as? Double)
    #expect(prediction["gpu_hours"] as? Double != nil && prediction["time_limit"] as? String != nil)
    #expect(prediction["items"] as? Int == 24)

    let submit = try await caravan(["submit", large, "--json"], in: dir)
    #expect(submit.status == 0, "\(submit.stderr)")
    let runDir = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)
    // Measured as the estimate counts it: the servers' start-up, then first request to last answer.
    let events = try readJSONLines(runDir + "/timing/shard-0000.jsonl")
    let server = try #require(events.first { $0["event"] == .string("server") })
    let shard = try #require(events.last { $0["event"] == .string("shard") })
    let first = try #require(ISOTimestamp.seconds(shard["first_request_at"]?.stringValue ?? ""))
    let last = try #require(ISOTimestamp.seconds(shard["last_request_at"]?.stringValue ?? ""))
    let startup = (server["start_to_ready_ms"]?.doubleValue ?? 0) / 1000
    let measured = startup + (last - first)
    #expect(abs(wall / measured - 1) <= 0.25, "predicted \(wall) s, measured \(measured) s")

    // With both runs, each is predicted from the other, and the error is shown.
    let text = try await caravan(["estimate", large], in: dir)
    #expect(text.stdout.contains("past check:"), "\(text.stdout)")
  }

  @Test func submitWarnsWhenTheTimeLimitLooksTooShort() async throws {
    let dir = try TestPaths.temporaryDirectory("estimate-warn")
    let small = try writeSpec("small", prompts: 6, in: dir)
    #expect(try await caravan(["estimate", small, "--calibrate", "6"], in: dir).status == 0)
    let tight = try writeSpec("tight", prompts: 400, in: dir, extra: "executor: slurm\nslurm: {time: \"00:00:30\", grace: 10}")
    let dry = try await caravan(["submit", tight, "--dry-run"], in: dir)
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect((dry.stdout + dry.stderr).contains("slurm.time 00:00:30 looks too short"), "\(dry.stdout)\(dry.stderr)")
  }
}
