import Testing

@testable import CaravanCore

/// `engine.parallel: auto` against a model server: `slots` requests are served at once, each
/// taking `service` seconds, so throughput grows with the count until it reaches the slots.
@Suite struct ParallelRampTests {
  /// Feeds the ramp the answers such a server gives, until it settles; returns it.
  func ramp(slots: Int, ceiling: Int, servers: Int = 1, service: Double = 0.1, tokens: Double = 10) -> ParallelRamp {
    var ramp = ParallelRamp(ceiling: ceiling, servers: servers)
    var now = 0.0
    var answers = 0
    while !ramp.settled, answers < 100_000 {
      // With `limit` in flight per server, answers arrive at min(limit, slots) / service per server.
      let rate = Double(min(ramp.limit, slots) * servers) / service
      now += 1 / rate
      answers += 1
      _ = ramp.record(work: tokens, at: now)
    }
    return ramp
  }

  @Test func itStopsWhereMoreRequestsNoLongerHelp() {
    let found = ramp(slots: 4, ceiling: 16)
    #expect(found.settled && found.limit == 4 && found.chosen == 4)
    #expect(found.trials.map(\.parallel) == [1, 2, 4, 8])
    #expect(abs(found.trials[2].rate - 400) < 1, "4 slots × 10 tokens / 0.1 s")
  }

  @Test func itStaysWithinTheServersSlotLimit() {
    let found = ramp(slots: 100, ceiling: 6)
    #expect(found.limit == 6 && found.trials.map(\.parallel) == [1, 2, 4, 6])
  }

  @Test func aCountBetweenPowersOfTwoIsMatchedByTheNextOne() {
    // Six slots: 8 in flight serve as well as 6, and 16 no better, so 8 is kept.
    let found = ramp(slots: 6, ceiling: 16, servers: 2)
    #expect(found.chosen == 8)
    #expect(found.trials.last?.parallel == 16)
  }

  /// Answers of 2 ms whose gaps jitter (a tiny model on a shared CPU): windows of a few
  /// answers compare the jitter; windows of a quarter second compare the counts.
  @Test func millisecondAnswersAreMeasuredOverAQuarterSecond() {
    func settle(minimumWindow: Double, seed: UInt64) -> ParallelRamp {
      var ramp = ParallelRamp(ceiling: 16, servers: 1)
      ramp.minimumWindowSeconds = minimumWindow
      var generator = SeededGenerator(seed: seed)
      var now = 0.0
      while !ramp.settled {
        let rate = Double(min(ramp.limit, 4)) / 0.002
        // Each gap is a tenth to three times the mean (an exponential-ish spread).
        now += (0.1 + 2.9 * generator.nextUnit() * generator.nextUnit() * 2) / rate
        _ = ramp.record(work: 10, at: now)
      }
      return ramp
    }
    let seeds: [UInt64] = Array(1...20)
    // Stopping short of the 4 slots loses throughput (more than 4 in flight only queue).
    let calm = seeds.filter { settle(minimumWindow: 0.25, seed: $0).chosen >= 4 }.count
    let hasty = seeds.filter { settle(minimumWindow: 0, seed: $0).chosen >= 4 }.count
    #expect(calm == seeds.count, "quarter-second windows reached the 4 slots for \(calm) of \(seeds.count) seeds")
    #expect(hasty < seeds.count, "windows of a few answers stopped short for some seeds (\(hasty) of \(seeds.count) reached 4)")
  }

  @Test func aCeilingOfOneIsSettledAtOnce() {
    var ramp = ParallelRamp(ceiling: 1, servers: 1)
    #expect(ramp.settled && ramp.limit == 1)
    let changed = ramp.record(work: 1, at: 1)
    #expect(!changed)
  }
}
