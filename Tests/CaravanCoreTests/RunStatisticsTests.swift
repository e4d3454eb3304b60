import CaravanCore
import Foundation
import Testing

@Suite struct RunStatisticsTests {
  @Test func busyTimeIsTheUnionOfRequestIntervalsInAnyOrder() {
    var busy = BusyTime()
    for (start, end) in [(5.0, 6.0), (0, 2), (5.5, 5.7), (1, 3), (10, 10.5), (2.9, 4)] { busy.add(start: start, end: end) }
    // [0, 4] + [5, 6] + [10, 10.5]
    #expect(busy.seconds == 5.5)
    #expect(busy.periods.count == 3 && !busy.approximate)
    busy.add(start: 3.5, end: 10.2)
    #expect(busy.seconds == 10.5 && busy.periods.count == 1)
  }

  /// Past its limit, the shortest idle gaps count as busy: bounded memory, and a total that can
  /// only err high, by no more than those gaps. The fifth period halves the list by closing the
  /// gaps of 0.1 and 0.2 s; the sixth fits again.
  @Test func busyTimeStaysBoundedByMergingTheShortestGaps() {
    var busy = BusyTime(limit: 4)
    let gaps = [0.1, 5, 0.2, 7, 0.3]
    var start = 0.0
    for gap in gaps + [0] {
      busy.add(start: start, end: start + 1)
      start += 1 + gap
    }
    #expect(busy.approximate && busy.periods.count <= 4)
    #expect(abs(busy.seconds - (6 + 0.1 + 0.2)) < 1e-9)
  }

  /// Spans spread over buckets by overlap, and doubling the bucket width (to the right, then to
  /// the left) keeps every span-second.
  @Test func timeBucketsKeepTotalsWhileTheAxisGrows() {
    var buckets = TimeBuckets<String>(capacity: 4, initialWidth: 1)
    buckets.addSpan("n1", from: 100, to: 101.5)
    buckets.addSpan("n1", from: 100.5, to: 101)
    #expect(buckets.width == 1)
    #expect(buckets.buckets("n1").map(\.level) == [1.5, 0.5])
    buckets.addSpan("n1", from: 102, to: 109)  // past the right end: width 4
    buckets.addSpan("n2", from: 90, to: 91)  // before the left end: width 8
    #expect(buckets.width >= 4)
    let total = buckets.buckets("n1").reduce(0) { $0 + $1.sum }
    #expect(abs(total - 9) < 1e-9)
    #expect(buckets.buckets("n2").reduce(0) { $0 + $1.sum } == 1)
    #expect(buckets.buckets("n1").allSatisfy { $0.start >= buckets.origin! })
    #expect(buckets.origin! <= 90 && buckets.end! > 109)

    var points = TimeBuckets<Int>(capacity: 8, initialWidth: 1)
    for time in 0..<100 { points.addPoint(0, at: Double(time), value: Double(time % 2 == 0 ? 40 : 60)) }
    let means = points.buckets(0)
    #expect(means.count <= 8 && means.allSatisfy { $0.mean == 50 })
    #expect(means.reduce(0) { $0 + $1.count } == 100)
  }

  @Test func readsTheTimestampsRecordsCarry() {
    #expect(ISOTimestamp.seconds("1970-01-01T00:00:00Z") == 0)
    #expect(ISOTimestamp.seconds("2026-01-01T00:00:00Z") == (try? Date.ISO8601FormatStyle().parse("2026-01-01T00:00:00Z"))?.timeIntervalSince1970)
    #expect(ISOTimestamp.seconds("2024-02-29T23:59:59.250Z") == 1_709_251_199.25)
    #expect(ISOTimestamp.seconds("2026-01-01T02:00:00+02:00") == ISOTimestamp.seconds("2026-01-01T00:00:00Z"))
    for bad in ["", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "yesterday at noon, roughly"] {
      #expect(ISOTimestamp.seconds(bad) == nil, "\(bad)")
    }
  }

  func record(_ seq: Int, node: String, gpu: String?, end: String, wallMs: Double, tokens: Int) -> ResultRecord {
    let item = WorkItem(seq: seq, id: "p\(seq)", variant: "default", repeat: 1, model: "m", input: .prompt("q"), options: [:])
    var record = ResultRecord(item: item, status: .ok, node: node, shard: 0, attempts: 1, wallMs: wallMs, finishedAt: end)
    record.gpu = gpu
    record.timings.evalCount = tokens
    record.timings.evalDuration = 1_000_000_000
    record.response = "answer"
    return record
  }

  func sample(_ seconds: Double, index: Int, uuid: String, power: Double) -> GPUSample {
    GPUSample(timestamp: Date(timeIntervalSince1970: seconds), index: index, uuid: uuid, name: "NVIDIA H200", utilization: 50, memoryUsed: 1000, memoryTotal: 143771, power: power, temperature: 40)
  }

  /// Inside a device cgroup the server sees CUDA_VISIBLE_DEVICES=0 while nvidia-smi calls the same
  /// GPU index 3: the server line of the timing file joins the two by UUID.
  @Test func recordsReachTheirGPUsRowThroughTheServersTimingLine() {
    var statistics = RunStatistics(variants: [Variant(name: "default", model: "m", options: [:], baseModel: "m")])
    let t0 = ISOTimestamp.seconds("2026-01-01T00:00:00Z")!
    var server = ShardTimingEvent(event: .server, shard: 0, node: "n1", jobId: "1_0", restartCount: 0, at: "2026-01-01T00:00:00Z")
    server.server = 0
    server.cudaVisibleDevices = "0"
    server.gpus = [GPUInfo(index: 3, uuid: "GPU-three", name: "NVIDIA H200")]
    server.startToReadyMs = 4000
    server.modelLoadMs = ["m": 2500]
    statistics.add(server)
    statistics.addTelemetry(node: "n1", samples: (0...10).map { sample(t0 + Double($0), index: 3, uuid: "GPU-three", power: 200) })
    statistics.add(record(0, node: "n1", gpu: "0", end: "2026-01-01T00:00:05Z", wallMs: 4000, tokens: 1000))
    statistics.add(record(1, node: "n1", gpu: "0", end: "2026-01-01T00:00:10Z", wallMs: 3000, tokens: 1000))
    statistics.finish()

    let node = statistics.nodeRows[0]
    #expect(node.requests == 2 && node.busySeconds == 7 && node.wallSeconds == 9)
    #expect(node.servers.count == 1 && node.servers.readyMaxMs == 4000 && node.servers.modelLoadMaxMs == 2500)
    #expect(node.telemetry?.energyJoules == 2000 && node.tokensPerJoule == 1)
    let rows = statistics.gpuRows
    #expect(rows.map(\.gpu) == ["3"])
    #expect(rows[0].requests == 2 && rows[0].telemetry?.energyJoules == 2000 && rows[0].servers.count == 1)
    // 7 request-seconds, summed from millisecond slices of times near 1.8e9 s: equal to within rounding.
    #expect(abs(statistics.concurrency.buckets("n1").reduce(0) { $0 + $1.sum } - 7) < 1e-3)
  }
}
