import Foundation
import Testing

@testable import CaravanCore

/// Numbers read from specs, records, telemetry and servers never trap: each of these did.
@Suite("Numbers from input")
struct InputNumberTests {
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

  @Test("saturating arithmetic holds at the ends of Int")
  func saturating() {
    #expect(Int.max.addingSaturating(1) == .max)
    #expect(Int.min.addingSaturating(-1) == .min)
    #expect(Int.max.multipliedSaturating(by: -2) == .min)
    #expect((1 << 40).multipliedSaturating(by: 1 << 40) == .max)
    #expect(1e300.saturatingInt == .max && (-1e300).saturatingInt == .min && Double.nan.saturatingInt == nil && 2.9.saturatingInt == 2)
  }

  @Test("a manifest's shard table is checked before anything is sized by it")
  func manifestProblems() {
    var manifest = Manifest(name: "x", runID: "r", createdAt: "t", caravanVersion: "v", specFile: "/s", plan: Plan(variants: [], items: [], shards: [[], []]))
    #expect(manifest.problems.isEmpty)
    manifest.shards[0].items = -1
    manifest.shards[1].index = 0
    #expect(manifest.problems == ["shard 0 has -1 items; a count cannot be negative", "shard 0 is listed twice"])
  }
}
