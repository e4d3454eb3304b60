import Testing

@testable import CaravanCore

/// The distribution benchmark's simulation: its ideal and its two policies behave as the
/// scheduling argument says they must.
@Suite struct DistributionSimulationTests {
  let lengths = DistributionSimulation.skewedLengths(count: 20_000, median: 2, sigma: 1, seed: 1)
  let speeds = [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]

  @Test func equalNodesAndEqualItemsMakeBothPoliciesIdeal() {
    let simulation = DistributionSimulation(speeds: [1, 1, 1], lengths: Array(repeating: 1, count: 300))
    let ideal = simulation.ideal
    #expect(ideal == 100)
    #expect(abs(simulation.runStatic().makespan! - ideal) < 1)
    #expect(abs(simulation.runDynamic().makespan! - ideal) < 5, "claims cost a little each")
  }

  @Test func dynamicStaysWithinFivePercentOfIdealOnMixedNodesAndSkewedItems() {
    let simulation = DistributionSimulation(speeds: speeds, lengths: lengths)
    let dynamic = simulation.runDynamic(), fixed = simulation.runStatic()
    #expect(dynamic.itemsLeft == 0 && fixed.itemsLeft == 0)
    #expect(dynamic.makespan! <= 1.05 * simulation.ideal)
    #expect(fixed.makespan! >= 1.3 * simulation.ideal, "half-speed nodes hold static back")
  }

  @Test func aDeadNodesChunkIsTakenOverAndNothingIsLost() {
    var simulation = DistributionSimulation(speeds: speeds, lengths: lengths)
    simulation.death = (task: 4, at: 0.3 * simulation.ideal)
    let dynamic = simulation.runDynamic(), fixed = simulation.runStatic()
    #expect(dynamic.itemsLeft == 0 && dynamic.chunksTakenOver == 1)
    #expect(dynamic.makespan! <= 1.05 * simulation.ideal)
    #expect(fixed.itemsLeft > 0 && fixed.makespan == nil, "a static shard on a dead node waits for resume")
  }

  @Test func lengthsAreSeededAndSkewed() {
    #expect(DistributionSimulation.skewedLengths(count: 5, median: 2, sigma: 1, seed: 7) == DistributionSimulation.skewedLengths(count: 5, median: 2, sigma: 1, seed: 7))
    let sorted = lengths.sorted()
    #expect(abs(sorted[sorted.count / 2] - 2) < 0.1, "median 2")
    #expect(sorted.last! > 20 * sorted[sorted.count / 2], "a heavy tail")
  }
}
