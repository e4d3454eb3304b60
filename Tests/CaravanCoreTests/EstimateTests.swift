@testable import CaravanCore
import Testing

/// The arithmetic behind `caravan estimate`.
@Suite("Estimate")
struct EstimateModelTests {
  func run(requests: Int, tokens: Int, seconds: Double, span: Double) -> Estimate.Run {
    let request = Estimate.Request(variant: "v", promptWords: 10, promptTokens: 13, generatedTokens: tokens, wallSeconds: seconds, prefillSeconds: 0.013, decodeSeconds: seconds - 0.113)
    return Estimate.Run(path: "/r", model: "m", gpuName: nil, requests: Array(repeating: request, count: requests), shards: [Estimate.Shard(requests: requests, requestSeconds: span, startupSeconds: 2)])
  }

  @Test("rates come from the runs: overhead, per-token times, tokens per word, concurrency, start-up")
  func rates() throws {
    let rates = try #require(Estimate.Rates([run(requests: 10, tokens: 50, seconds: 1.0, span: 2.5)]))
    #expect(abs(rates.tokensPerWord - 1.3) < 1e-9)
    #expect(abs(rates.concurrency - 4) < 1e-9, "10 requests of 1 s in 2.5 s: 4 at once")
    #expect(abs(rates.decodeSecondsPerToken - 0.887 / 50) < 1e-9)
    #expect(abs(rates.overheadSeconds - 0.1) < 1e-9)
    #expect(rates.startupSeconds == 2)
    // Twice the requests of the same shape: twice the request phase, the same start-up.
    let prediction = Estimate.predict(shards: [Array(repeating: (10, "v", nil), count: 20)], rates: rates, gpusPerShard: 2)
    #expect(abs(prediction.wallSeconds - (2 + 5)) < 1e-9)
    #expect(abs(prediction.gpuHours - 7 * 2 / 3600) < 1e-12)
    // num_predict caps the generated tokens.
    #expect(rates.seconds(promptWords: 10, variant: "v", numPredict: 25) < rates.seconds(promptWords: 10, variant: "v", numPredict: nil))
  }

  @Test("no ok request, or no measured span, is nothing to learn from")
  func nothing() {
    #expect(Estimate.Rates([]) == nil)
    #expect(Estimate.Rates([run(requests: 3, tokens: 5, seconds: 1, span: 0)]) == nil)
  }

  @Test("time limits are written as Slurm writes them, with room above the longest shard")
  func timeLimit() {
    #expect(Estimate.slurmTime(59) == "00:00:59")
    #expect(Estimate.slurmTime(3 * 86_400 + 3723) == "3-01:02:03")
    let prediction = Estimate.Prediction(shardSeconds: [100, 3600], gpusPerShard: 1, rates: Estimate.Rates([run(requests: 1, tokens: 1, seconds: 1, span: 1)])!)
    #expect(prediction.timeLimit == "01:30:00")
  }
}
