import CaravanCore
import CaravanRender
import CaravanTestSupport
import Foundation
import Testing

@Suite struct ReportRendererTests {
  static let t0 = 1_772_359_200.0  // 2026-03-01T10:00:00Z

  /// A small run: node n1 with two GPUs and telemetry, and a node with a hostile name and no
  /// telemetry (its shard says why); two variants, two prompts, two repeats.
  static func statistics() -> RunStatistics {
    let variants = [
      Variant(name: "cold", model: "m", options: ["temperature": .double(0)], baseModel: "m"),
      Variant(name: "hot", model: "m", options: ["temperature": .double(1.2), "top_k": .int(40)], baseModel: "m"),
    ]
    var statistics = RunStatistics(variants: variants)
    for (index, uuid) in [(0, "GPU-a"), (1, "GPU-b")] {
      var server = ShardTimingEvent(event: .server, shard: 0, node: "n1", jobId: "9_0", restartCount: 0, at: "2026-03-01T10:00:00Z")
      server.server = index
      server.cudaVisibleDevices = String(index)
      server.gpus = [GPUInfo(index: index, uuid: uuid, name: "NVIDIA H100 80GB HBM3")]
      server.startedAt = "2026-03-01T10:00:00Z"
      server.readyAt = "2026-03-01T10:00:0\(4 + index)Z"
      server.startToReadyMs = Double(4000 + 1000 * index)
      server.modelLoadMs = ["m": 2000]
      statistics.add(server)
    }
    var gap = ShardTimingEvent(event: .shard, shard: 1, node: "a<b>&\"c'", jobId: "9_1", restartCount: 0, at: "2026-03-01T10:01:00Z")
    gap.telemetry = "unavailable: nvidia-smi is not on PATH"
    statistics.add(gap)
    var samples: [GPUSample] = []
    for second in 0...60 {
      for (index, uuid, power) in [(0, "GPU-a", 300.0), (1, "GPU-b", 150.0)] {
        let utilization = Double((second * 7 + index * 30) % 100)
        samples.append(GPUSample(
          timestamp: Date(timeIntervalSince1970: t0 + Double(second)), index: index, uuid: uuid, name: "NVIDIA H100 80GB HBM3",
          utilization: utilization, memoryUsed: 40000 + Double(index * 1000), memoryTotal: 81559, power: power, temperature: 60))
      }
    }
    statistics.addTelemetry(node: "n1", samples: samples)
    var seq = 0
    for (node, gpuCount) in [("n1", 2), ("a<b>&\"c'", 0)] {
      for prompt in ["p1", "p2"] {
        for variant in ["cold", "hot"] {
          for repeatNumber in 1...2 {
            let item = WorkItem(seq: seq, id: prompt, variant: variant, repeat: repeatNumber, model: "m", input: .prompt("q"), options: [:])
            let end = t0 + 10 + Double(seq) * 2
            var record = ResultRecord(item: item, status: .ok, node: node, shard: gpuCount > 0 ? 0 : 1, attempts: 1, wallMs: 3000, finishedAt: Date(timeIntervalSince1970: end).ISO8601Format())
            record.gpu = gpuCount > 0 ? String(seq % gpuCount) : nil
            record.response = variant == "cold" ? "the same words" : "words number \(repeatNumber) of \(prompt)"
            record.timings.promptEvalCount = 12
            record.timings.promptEvalDuration = 60_000_000
            record.timings.evalCount = 90
            record.timings.evalDuration = 1_500_000_000
            statistics.add(record)
            seq += 1
          }
        }
      }
    }
    statistics.finish()
    return statistics
  }

  static func golden(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/" + name)
  }

  @Test func htmlReportMatchesGolden() throws {
    let page = HTMLReport.render(name: "demo", runID: "demo-1", total: 16, ok: 16, errors: 0, missing: 0, statistics: Self.statistics())
    let mismatch = try goldenMismatch(page, golden: Self.golden("report.html.golden"))
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }

  @Test func markdownAndTimingCSVMatchGoldens() throws {
    let statistics = Self.statistics()
    let markdown = ReportRenderer.markdown(name: "demo", runID: "demo-1", total: 16, ok: 16, errors: 0, missing: 0, statistics: statistics)
    let markdownMismatch = try goldenMismatch(markdown, golden: Self.golden("report.md.golden"))
    #expect(markdownMismatch == nil, "\(markdownMismatch ?? "")")
    let csvMismatch = try goldenMismatch(ReportRenderer.timingCSV(statistics), golden: Self.golden("timing.csv.golden"))
    #expect(csvMismatch == nil, "\(csvMismatch ?? "")")
  }

  /// Node names come from the cluster and variant names from the spec: markup in them stays text.
  @Test func textFromTheRunIsEscaped() {
    let page = HTMLReport.render(name: "<script>alert(1)</script>", runID: "r&d", total: 16, ok: 16, errors: 0, missing: 0, statistics: Self.statistics())
    #expect(!page.contains("<script") && !page.contains("<b>&"))
    #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && page.contains("r&amp;d"))
    #expect(page.contains("a&lt;b&gt;&amp;&quot;c&#39;"))
    #expect(page.contains("unavailable: nvidia-smi is not on PATH"))
  }

  /// One bar per node, one line per GPU, and a fixed number of timeline points however many
  /// requests ran: the page's size is bounded by nodes, GPUs and buckets.
  @Test func chartsStayBoundedAsRequestsGrow() {
    var statistics = RunStatistics(variants: [Variant(name: "default", model: "m", options: [:], baseModel: "m")])
    for seq in 0..<20_000 {
      let item = WorkItem(seq: seq, id: "p\(seq)", variant: "default", repeat: 1, model: "m", input: .prompt("q"), options: [:])
      var record = ResultRecord(item: item, status: .ok, node: "n\(seq % 3)", shard: 0, attempts: 1, wallMs: 1500, finishedAt: Date(timeIntervalSince1970: Self.t0 + Double(seq)).ISO8601Format())
      record.timings.evalCount = 10
      record.timings.evalDuration = 100_000_000
      statistics.add(record)
    }
    statistics.finish()
    let page = HTMLReport.render(name: "big", runID: "big-1", total: 20_000, ok: 20_000, errors: 0, missing: 0, statistics: statistics)
    #expect(page.components(separatedBy: "<path class=\"concurrency\"").count - 1 == 3)
    #expect(page.components(separatedBy: "<rect class=\"bar\"").count - 1 == 3)
    #expect(page.utf8.count < 100_000)
    #expect(statistics.concurrency.buckets("n0").count <= 256)
  }
}
