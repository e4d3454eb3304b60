import CaravanCore
import Foundation
import Testing

@testable import CaravanRun

/// The progress line of a local run and of a piped `status --watch`, and how a watch ends.
@Suite struct ProgressTextTests {
  func shard(_ index: Int, items: Int, done: Int, errors: Int = 0, tokens: Int = 0, nanoseconds: Int = 0) -> RunProgress.Shard {
    RunProgress.Shard(index: index, items: items, done: done, errors: errors, lastRecordAt: nil, evalTokens: tokens, evalNanoseconds: nanoseconds)
  }

  @Test func theLineSaysDoneErrorsDecodeRateAndETA() {
    let baseline = RunProgress(shards: [shard(0, items: 20, done: 0), shard(1, items: 20, done: 0)])
    // 10 items in 20 s: 30 left take 60 s. Decode: 300 tokens over 2 s + 100 over 2 s = 100 tok/s.
    let now = RunProgress(shards: [shard(0, items: 20, done: 6, errors: 1, tokens: 300, nanoseconds: 2_000_000_000), shard(1, items: 20, done: 4, tokens: 100, nanoseconds: 2_000_000_000)])
    #expect(now.line(since: baseline, elapsedSeconds: 20) == "10/40 done (25%), 1 error, 100.0 tok/s decode, ETA 1m00s")
  }

  @Test func theETACountsOnlyItemsRecordedSinceWatchingBegan() {
    // A resume: 90 items were done before; 5 more in 10 s leaves 5 for 10 s, not 5 for 0.6 s.
    let baseline = RunProgress(shards: [shard(0, items: 100, done: 90)])
    let now = RunProgress(shards: [shard(0, items: 100, done: 95)])
    #expect(now.eta(since: baseline, elapsedSeconds: 10) == 10)
    #expect(now.line(since: baseline, elapsedSeconds: 10) == "95/100 done (95%), 0 errors, ETA 10s")
    // Nothing recorded yet: no ETA and no decode rate, rather than zeros.
    #expect(baseline.line(since: baseline, elapsedSeconds: 3) == "90/100 done (90%), 0 errors, ETA -")
  }

  @Test func durationsReadAsAPersonWritesThem() {
    #expect(RunProgress.duration(0) == "0s")
    #expect(RunProgress.duration(59.4) == "59s")
    #expect(RunProgress.duration(65) == "1m05s")
    #expect(RunProgress.duration(2 * 3600 + 7 * 60) == "2h07m")
    #expect(RunProgress.duration(3 * 86_400 + 4 * 3600) == "3d04h")
    #expect(RunProgress.duration(.infinity) == "-")
  }

  func status(_ states: [(String, RunProgress.Shard)], jobID: String? = "42") -> RunStatus {
    RunStatus(
      runDir: "runs/r", name: "r", jobID: jobID, scheduler: "sbatch", source: "slurmctld",
      shards: states.map { RunStatus.Shard(index: $0.1.index, state: $0.0, restarts: 0, progress: $0.1) })
  }

  @Test func aWatchEndsOnlyWhenNoShardRunsOrWaits() {
    #expect(status([("RUNNING", shard(0, items: 2, done: 2)), ("COMPLETED", shard(1, items: 2, done: 2))]).outcome == nil)
    #expect(status([("PENDING", shard(0, items: 2, done: 0))]).outcome == nil)
    #expect(status([("COMPLETED", shard(0, items: 2, done: 2)), ("COMPLETED", shard(1, items: 2, done: 2))]).outcome == .complete)
    #expect(status([("COMPLETED", shard(0, items: 2, done: 2, errors: 1))]).outcome == .completeWithErrors(1))
  }

  @Test func aJobGoneWithWorkLeftIsIncompleteAndPointsToResume() throws {
    // Cancelled, or forgotten by slurmctld with no accounting (UNKNOWN): work is left, nothing runs it.
    let gone = status([("CANCELLED", shard(0, items: 2, done: 1)), ("UNKNOWN", shard(1, items: 2, done: 0))])
    let outcome = try #require(gone.outcome)
    #expect(outcome == .incomplete(missing: 3))
    #expect(outcome.exitStatus == 2)
    #expect(gone.outcomeLine(outcome) == "incomplete: job 42 is no longer running or pending (CANCELLED 1, UNKNOWN 1), and 3 of 4 work items have no record. Send them again with `caravan resume runs/r`.")
    #expect(RunStatus.Outcome.complete.exitStatus == 0 && RunStatus.Outcome.completeWithErrors(2).exitStatus == 3)
  }

  @Test func aRunNeverSubmittedIsIncompleteAndSaysSo() throws {
    let never = status([("UNKNOWN", shard(0, items: 3, done: 0))], jobID: nil)
    let outcome = try #require(never.outcome)
    #expect(never.outcomeLine(outcome) == "incomplete: the run was never submitted, and 3 of 3 work items have no record. Submit its spec with `caravan submit`.")
  }

  @Test func aLocalRunWhoseProcessIsGoneIsNotAlive() {
    #expect(!RunStatus.localRunIsAlive(jobID: "local-999999999"))
    #expect(!RunStatus.localRunIsAlive(jobID: "12345"))
    // This test process is alive, but it is not a caravan: a reused pid is not the run.
    #expect(!RunStatus.localRunIsAlive(jobID: "local-\(getpid())"))
  }
}
