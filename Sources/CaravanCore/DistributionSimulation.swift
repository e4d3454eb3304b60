import Foundation

/// A discrete-event simulation of a run's tasks, static against dynamic distribution: nodes of
/// different speeds, items of skewed lengths, and a node that dies mid-run. It uses the planner's
/// own chunk sizes and the claim rules the worker follows (a dead holder's chunk is taken over
/// `claimTimeout` after its last heartbeat, by the next task that looks), so the makespans it
/// reports are those of Caravan's policy, without a cluster. `caravan simulate-distribution`
/// prints them; docs/benchmarks.md holds a run.
public struct DistributionSimulation: Sendable {
  /// Each task's speed: an item of length L takes L / speed seconds there.
  public var speeds: [Double]
  /// Each item's length in seconds at speed 1, in plan order.
  public var lengths: [Double]
  /// The task that dies, and when (seconds after the start); nil: none does.
  public var death: (task: Int, at: Double)?
  /// Seconds without a heartbeat before a chunk is taken over (`slurm.claim_timeout`).
  public var claimTimeout: Double = 120
  /// File-system latency of one claim (a listing, a create, reading the holders' heartbeats).
  public var claimSeconds: Double = 0.05
  /// `slurm.chunk_size`; nil: the planner's shrinking chunks.
  public var chunkSize: Int?

  public init(speeds: [Double], lengths: [Double], death: (task: Int, at: Double)? = nil) {
    self.speeds = speeds
    self.lengths = lengths
    self.death = death
  }

  /// What one distribution came to.
  public struct Outcome: Sendable, Equatable {
    /// When the last item was recorded; nil when items were left (a static shard on a dead node).
    public var makespan: Double?
    /// Items no task recorded (they wait for `caravan resume`).
    public var itemsLeft: Int
    /// Chunks (shards, for static) the work was cut into, and how many were taken over from a dead holder.
    public var chunks: Int
    public var chunksTakenOver: Int
  }

  /// The shortest makespan any distribution could reach: the work over the speed available,
  /// with the dying node's speed counted until it dies.
  public var ideal: Double {
    let work = lengths.reduce(0, +)
    let total = speeds.reduce(0, +)
    guard let death, speeds.indices.contains(death.task) else { return work / total }
    let dying = speeds[death.task]
    let withAll = work / total
    if withAll <= death.at { return withAll }
    return (work - dying * death.at) / (total - dying)
  }

  /// Task i runs the i-th contiguous slice; a dead task's slice stays unfinished.
  public func runStatic() -> Outcome {
    let tasks = speeds.count
    let base = lengths.count / tasks, extra = lengths.count % tasks
    var start = 0, end = 0.0, left = 0
    for task in 0..<tasks {
      let size = base + (task < extra ? 1 : 0)
      var clock = claimSeconds, done = 0
      for length in lengths[start..<start + size] {
        let finish = clock + length / speeds[task]
        if let death, death.task == task, finish > death.at { break }
        clock = finish
        done += 1
      }
      left += size - done
      end = max(end, clock)
      start += size
    }
    return Outcome(makespan: left > 0 ? nil : end, itemsLeft: left, chunks: tasks, chunksTakenOver: 0)
  }

  /// Tasks claim chunks in plan order; a task that finds none free takes over a dead holder's
  /// chunk once its heartbeat is `claimTimeout` old, and otherwise ends.
  public func runDynamic() -> Outcome {
    let tasks = speeds.count
    let sizes = Planner.chunkSizes(items: lengths.count, tasks: tasks, fixed: chunkSize)
    var chunkStart: [Int] = [0]
    for size in sizes { chunkStart.append(chunkStart[chunkStart.count - 1] + size) }
    var done = [Bool](repeating: false, count: lengths.count)
    // Per chunk: nil unclaimed; the holder and when its heartbeats stop (infinity while alive).
    var holder: [(task: Int, silentFrom: Double)?] = Array(repeating: nil, count: sizes.count)
    var finished = [Bool](repeating: false, count: sizes.count)
    var free = [Double](repeating: 0, count: tasks)
    var ended = [Bool](repeating: false, count: tasks)
    var nextChunk = 0, takenOver = 0, claims = 0
    var end = 0.0

    while let task = (0..<tasks).filter({ !ended[$0] }).min(by: { free[$0] < free[$1] }) {
      let now = free[task]
      if let death, death.task == task, now >= death.at {
        ended[task] = true
        continue
      }
      // Claim: a dead holder's chunk first, then the next never claimed.
      var claimed: Int?
      if let stale = holder.indices.first(where: { !finished[$0] && holder[$0].map { now >= $0.silentFrom + claimTimeout } == true }) {
        claimed = stale
        takenOver += 1
      } else if nextChunk < sizes.count {
        claimed = nextChunk
        nextChunk += 1
      }
      guard let chunk = claimed else {
        // Nothing free: wait for a dead holder's chunk to go stale, else end.
        let waits = holder.indices.compactMap { index -> Double? in
          guard !finished[index], let held = holder[index], held.silentFrom.isFinite else { return nil }
          return held.silentFrom + claimTimeout
        }
        if let until = waits.min() { free[task] = max(until, now + 1e-9) } else { ended[task] = true }
        continue
      }
      claims += 1
      holder[chunk] = (task, .infinity)
      var clock = now + claimSeconds
      var died = false
      for item in chunkStart[chunk]..<chunkStart[chunk + 1] where !done[item] {
        let finish = clock + lengths[item] / speeds[task]
        if let death, death.task == task, finish > death.at {
          died = true
          break
        }
        clock = finish
        done[item] = true
      }
      if died, let death {
        holder[chunk] = (task, death.at)
        ended[task] = true
        end = max(end, min(clock, death.at))
        continue
      }
      finished[chunk] = true
      free[task] = clock
      end = max(end, clock)
    }
    let left = done.count { !$0 }
    return Outcome(makespan: left > 0 ? nil : end, itemsLeft: left, chunks: sizes.count, chunksTakenOver: takenOver)
  }
}

extension DistributionSimulation {
  /// Item lengths with a heavy tail: log-normal with median `median` seconds and shape `sigma`,
  /// from a fixed seed (a splitmix64 generator), so a run can be repeated exactly.
  public static func skewedLengths(count: Int, median: Double, sigma: Double, seed: UInt64) -> [Double] {
    var state = seed
    func uniform() -> Double {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      z ^= z >> 31
      return (Double(z >> 11) + 0.5) / Double(1 << 53)
    }
    return (0..<max(0, count)).map { _ in
      // Box–Muller: one standard normal from two uniforms.
      let normal = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
      return median * exp(sigma * normal)
    }
  }
}
