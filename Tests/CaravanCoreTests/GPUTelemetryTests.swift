import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@Suite struct GPUSampleTests {
  /// The local time nvidia-smi's timestamp means.
  func localTime(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Date {
    Calendar.current.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
  }

  @Test func readsAnH100Line() throws {
    let sample = try #require(GPUSample.parse("2026/11/29 18:59:34.250, 0, GPU-8a1f3c2e-55d1-7b9e-2c4a-91e0f7d3b6a5, NVIDIA H100 80GB HBM3, 87, 61234, 81559, 612.45, 67", timeZone: .current))
    #expect(sample.timestamp == localTime(2026, 11, 29, 18, 59, 34).addingTimeInterval(0.25))
    #expect(sample.index == 0)
    #expect(sample.uuid == "GPU-8a1f3c2e-55d1-7b9e-2c4a-91e0f7d3b6a5")
    #expect(sample.name == "NVIDIA H100 80GB HBM3")
    #expect(sample.utilization == 87 && sample.memoryUsed == 61234 && sample.memoryTotal == 81559)
    #expect(sample.power == 612.45 && sample.temperature == 67)
  }

  /// Drivers print `[N/A]` for a sensor a board lacks and `[Not Supported]` for a query it refuses
  /// (MIG slices, some H200 NVL boards); the rest of the line still counts.
  @Test func unreadableFieldsAreNilAndTheRestIsKept() throws {
    let na = try #require(GPUSample.parse("2026/11/29 18:59:35.001, 3, GPU-0c7e9a44-1b2d-4e6f-8a9b-0d1c2e3f4a5b, NVIDIA H200, 45, 70112, 143771, [N/A], 52", timeZone: .current))
    #expect(na.index == 3 && na.name == "NVIDIA H200")
    #expect(na.power == nil)
    #expect(na.utilization == 45 && na.memoryUsed == 70112 && na.temperature == 52)
    let unsupported = try #require(GPUSample.parse("2026/11/29 18:59:35.001, 1, MIG-5f6a7b8c-1d2e-3f40-5162-738495a6b7c8, NVIDIA H200, [Not Supported], [Not Supported], 143771, 398.10, [Unknown Error]", timeZone: .current))
    #expect(unsupported.utilization == nil && unsupported.memoryUsed == nil && unsupported.temperature == nil)
    #expect(unsupported.power == 398.10 && unsupported.memoryTotal == 143771)
  }

  /// nvidia-smi is killed mid-line on a requeue, and the next run appends to the same file.
  @Test func tornAndForeignLinesAreNotSamples() {
    let full = "2026/11/29 18:59:36.500, 0, GPU-8a1f3c2e-55d1-7b9e-2c4a-91e0f7d3b6a5, NVIDIA H100 80GB HBM3, 90, 61234, 81559, 650.00, 68"
    #expect(GPUSample.parse(full, timeZone: .current) != nil)
    for junk in [
      "",
      "2026/11/29 18:59:36.500, 0, GPU-8a1f3c2e-55d1-7b9e-2c4a-91e0f7d3b6a5, NVIDIA H1",  // cut mid-line
      "2026/11/29 18:59:36.500, 0, GPU-8a1f" + full,  // cut, then the next run's first line
      "2026/11/2" + full,  // cut inside the timestamp
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
      "No devices were found",
      "timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W], temperature.gpu",
      "2026-11-29 18:59:36, 0, GPU-x, NVIDIA H100, 1, 2, 3, 4, 5",  // not nvidia-smi's date form
      "2026/11/29 18:59:36.500, zero, GPU-x, NVIDIA H100, 1, 2, 3, 4, 5",
    ] {
      #expect(GPUSample.parse(junk, timeZone: .current) == nil, "\(junk)")
    }
  }

  /// The fake nvidia-smi the worker tests use prints what the parser reads, [N/A] included.
  @Test func parsesTheFakeNvidiaSmisOutput() async throws {
    let fake = TestPaths.fixtures.appendingPathComponent("bin/nvidia-smi").path
    let arguments = ["--query-gpu=" + GPUSample.queryFields.joined(separator: ","), "--format=csv,noheader,nounits"]
    let result = try await runCommand(fake, arguments, environment: ["FAKE_GPUS": "2", "FAKE_GPU_NA": "power.draw"])
    #expect(result.status == 0, "\(result.stderr)")
    let samples = result.stdout.split(separator: "\n").compactMap { GPUSample.parse($0, timeZone: .current) }
    #expect(samples.map(\.index) == [0, 1])
    #expect(samples.allSatisfy { $0.name == "NVIDIA H200" && $0.power == nil && $0.memoryTotal == 143771 && $0.utilization != nil })
  }
}

@Suite struct GPUUsageTests {
  /// Power 100, 200, 200, 100 W a second apart: trapezoids of 150 + 200 + 150 = 500 J. Then a
  /// 60 s gap (the job was requeued) that must not count, and 300 W for 1 s: 300 J. A second file
  /// starts 1 s later at 50 W for 1 s: 50 J, and must not be joined to the first (175 J if it were).
  @Test func energyIsTheTrapezoidIntegralWithoutGaps() {
    var gpu = GPUUsage()
    let samples: [(Double, Double?, Double?)] = [(0, 10, 100), (1, 90, 200), (1.5, 95, nil), (2, 80, 200), (3, 20, 100), (63, 50, 300), (64, 60, 300)]
    for (time, utilization, power) in samples { gpu.add(time: time, utilization: utilization, memoryUsedMiB: 1000 + time, power: power) }
    gpu.endSeries()
    gpu.add(time: 65, utilization: 0, memoryUsedMiB: 500, power: 50)
    gpu.add(time: 66, utilization: 0, memoryUsedMiB: 500, power: 50)
    #expect(gpu.samples == 9)
    #expect(abs(gpu.energyJoules! - 850) < 1e-9)
    let median = gpu.medianIntervalSeconds!
    #expect(median > 0.95 && median < 1.05)
    #expect(gpu.utilizationMax == 95)
    #expect(abs(gpu.utilizationMean! - 405.0 / 9) < 1e-9)
    #expect(gpu.memoryMaxMiB == 1064)
    #expect(abs(gpu.powerMean! - 1300.0 / 8) < 1e-9)  // the [N/A] reading is not a zero
  }

  /// Two GPUs: energies add; 1700 generated tokens over 850 J is 2 tokens per joule.
  @Test func nodeSummaryAddsEnergyAndGivesTokensPerJoule() {
    var first = GPUUsage(), second = GPUUsage()
    for time in 0...4 { first.add(time: Double(time), utilization: 50, memoryUsedMiB: 2000, power: 100) }  // 400 J
    for time in 0...3 { second.add(time: Double(time) * 2, utilization: 100, memoryUsedMiB: 3000, power: 75) }  // 450 J
    let node = GPUSummary([first, second])
    #expect(node.gpus == 2 && node.samples == 9)
    #expect(node.energyJoules == 850)
    #expect(node.tokensPerJoule(1700) == 2)
    #expect(node.memoryMaxMiB == 3000 && node.utilizationMax == 100)
    #expect(abs(node.utilizationMean! - 650.0 / 9) < 1e-9)
    #expect(abs(node.powerMean! - 800.0 / 9) < 1e-9)
  }

  @Test func noPowerReadingsMeanNoEnergyRatherThanZero() {
    var gpu = GPUUsage()
    for time in 0...3 { gpu.add(time: Double(time), utilization: 50, memoryUsedMiB: 1, power: nil) }
    #expect(gpu.energyJoules == nil && gpu.powerMean == nil)
    #expect(GPUSummary([gpu]).tokensPerJoule(100) == nil)
    #expect(GPUSummary([]).energyJoules == nil)
  }
}
