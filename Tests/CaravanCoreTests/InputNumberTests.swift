import Foundation
import Testing

@testable import CaravanCore

/// Numbers read from specs, records, telemetry and servers never trap: each of these did.
@Suite("Numbers from input")
struct InputNumberTests {
  @Test("a memory size near UInt64's limit is rounded up to megabytes without overflowing")
  func slurmMemory() {
    #expect(SlurmMemory.megabytes("18446744073709551615K") == 18_014_398_509_481_984)
    #expect(SlurmMemory.megabytes("1025K") == 2)
    #expect(SlurmMemory.megabytes("1024K") == 1)
    #expect(SlurmMemory.megabytes("18446744073709551615T") == nil)
    #expect(SlurmMemory.megabytes("99999999999999999999999G") == nil)
  }

  @Test("a whole-number option too large for an Int stays a double; an infinite one is refused")
  func hugeOptions() {
    #expect(OllamaOptions.normalized(name: "temperature", value: .double(1e300)) == .double(1e300))
    #expect(OllamaOptions.normalized(name: "temperature", value: .double(2)) == .int(2))
    #expect(OllamaOptions.problems(name: "presence_penalty", value: .double(.infinity)) == ["option 'presence_penalty' must be a finite number, not inf"])
    #expect(OllamaOptions.problems(name: "temperature", value: .double(-.infinity)).count == 1)
  }

  @Test("a request span far off the axis lands in its first or last bucket")
  func timeBuckets() {
    var buckets = TimeBuckets<String>(capacity: 8)
    buckets.addSpan("n", from: 1_700_000_000, to: 1_700_000_010)
    buckets.addSpan("n", from: -1e305, to: 1_700_000_000)
    buckets.addSpan("n", from: 1_700_000_000, to: 1e305)
    buckets.addPoint("n", at: 1e300, value: 1)
    #expect(!buckets.buckets("n").isEmpty)
  }

  @Test("a telemetry line with an impossible date or a non-finite reading is no sample, or has no reading")
  func telemetryLines() {
    let zone = TimeZone(identifier: "UTC")!
    #expect(GPUSample.parse("99999999999999999/01/01 00:00:00.000, 0, GPU-1, H200, 50, 1, 2, 100, 40", timeZone: zone) == nil)
    #expect(GPUSample.parse("2026/01/01 99:00:00.000, 0, GPU-1, H200, 50, 1, 2, 100, 40", timeZone: zone) == nil)
    let sample = GPUSample.parse("2026/01/01 00:00:00.000, 0, GPU-1, H200, inf, 1, 2, nan, 40", timeZone: zone)
    #expect(sample != nil && sample?.utilization == nil && sample?.power == nil)
  }

  @Test("no suggestion is sought for a name of a megabyte (it took minutes)")
  func longNames() {
    #expect(closestMatch(to: String(repeating: "x", count: 1 << 20), among: ["model", "name"]) == nil)
    #expect(closestMatch(to: "modle", among: ["model", "name"]) == "model")
  }

  @Test("saturating arithmetic holds at the ends of Int")
  func saturating() {
    #expect(Int.max.addingSaturating(1) == .max)
    #expect(Int.min.addingSaturating(-1) == .min)
    #expect(Int.max.multipliedSaturating(by: -2) == .min)
    #expect((1 << 40).multipliedSaturating(by: 1 << 40) == .max)
    #expect(1e300.saturatingInt == .max && (-1e300).saturatingInt == .min && Double.nan.saturatingInt == nil && 2.9.saturatingInt == 2)
  }

  @Test("spec numbers that the job does arithmetic with have upper bounds")
  func specBounds() throws {
    let text = minimalSpec + "engine: {parallel: 9223372036854775807, ready_timeout: 9223372036854775807}\nslurm: {grace: 70000}\n"
    let spec = try SpecParser.parse(text, file: "job.yaml")
    let found = SpecChecks.problems(spec: spec, specText: text, specFile: "job.yaml")
    #expect(found.map(\.description) == [
      "job.yaml:6: engine.parallel: is 9223372036854775807, but the most is 4,096 (requests in flight per server)",
      "job.yaml:6: engine.ready_timeout: is 9223372036854775807, but the most is 2,592,000 (30 days, in seconds)",
      "job.yaml:7: slurm.grace: is 70000, but the most is 65,535 (Slurm's --signal takes at most 65535 seconds)",
    ])
  }

  static func emptyPlan(shards: Int) -> Plan {
    let items = PlanItems(prompts: [], variants: [], repeats: 1)
    return Plan(items: items, shards: Array(repeating: items[0..<0], count: shards))
  }

  @Test("a manifest's shard table is checked before anything is sized by it")
  func manifestProblems() {
    var manifest = Manifest(name: "x", runID: "r", createdAt: "t", caravanVersion: "v", specFile: "/s", plan: Self.emptyPlan(shards: 2))
    #expect(manifest.problems.isEmpty)
    manifest.shards[0].items = -1
    manifest.shards[1].index = 0
    #expect(manifest.problems == ["shard 0 has -1 items; a count cannot be negative", "shard 0 is listed twice"])
  }
}
