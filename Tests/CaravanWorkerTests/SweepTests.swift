import CaravanCore
import CaravanOllama
import CaravanRun
import CaravanTestSupport
import Foundation
import Logging
import Testing

@testable import CaravanWorker

/// The worker's records, collected: what a sweep shows a user.
@Suite struct SweepTests {
  /// The tutorial's lesson, measured on the simulator: temperature 0 repeats itself.
  @Test func sweepShowsFewerDistinctAnswersAtTemperatureZero() async throws {
    let spec = """
      name: sweep
      model: gemma:7b
      prompts: prompts.jsonl
      repeats: 4
      engine: {kind: sim, parallel: 4}
      sweep:
        temperature: [0.0, 1.0]
      container: {runtime: none}
      """
    let prompts = (1...6).map { #"{"id": "p\#($0)", "prompt": "Write a birthday message number \#($0)"}"# }.joined(separator: "\n")
    let prepared = try prepareRun(spec: spec, prompts: prompts)
    let sim = try await SimulatorProcess.start(arguments: ["--models", "gemma:7b", "--slots", "4"])
    let worker = ShardWorker(run: prepared.run, shard: 0, parallel: 4, node: "n1", jobID: nil, logger: Logger(label: "test"))
    _ = try await worker.run(client: OllamaClient(baseURL: sim.url), stop: StopFlag())
    _ = try Collector.collect(prepared.run)
    let rows = try String(contentsOfFile: prepared.run.path + "/sweep.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    let header = rows[0]
    let distinct = try #require(header.firstIndex(of: "distinct_answers_per_prompt"))
    let similarity = try #require(header.firstIndex(of: "mean_pairwise_similarity"))
    let cold = try #require(rows.first { $0[0] == "temperature=0.0" })
    let hot = try #require(rows.first { $0[0] == "temperature=1.0" })
    #expect(Double(cold[distinct]) == 1.0)
    #expect(Double(hot[distinct])! > Double(cold[distinct])!)
    #expect(Double(cold[similarity]) == 1.0)
    #expect(Double(hot[similarity])! < 1.0)
    let report = try String(contentsOfFile: prepared.run.path + "/report.md", encoding: .utf8)
    #expect(report.contains("## Sweep") && report.contains("| temperature=1.0 |"))
    let timing = try String(contentsOfFile: prepared.run.path + "/timing.csv", encoding: .utf8).split(separator: "\n")
    #expect(timing.count == 2 && timing[1].hasPrefix("n1,,48,0,"))
  }
}
