/// `engine.parallel: auto`: finds how many requests in flight a server serves best, while the
/// run goes on. It starts at one per server and doubles the count while throughput still grows
/// by more than `gain` (5%); when a step gains less, or the count reaches `ceiling` (the server's
/// own slot limit, which Caravan starts it with), it keeps the best count seen and holds it.
///
/// Throughput is work per second over a window of answers: generated tokens when the answers
/// count them, else answers. The answers of requests sent under the previous count are skipped
/// before a window starts, so each window measures one count only. Pure: the worker feeds it
/// each answer and reads `limit`.
public struct ParallelRamp: Sendable, Equatable {
  /// One count tried, and what it gave.
  public struct Trial: Sendable, Equatable, Codable {
    public var parallel: Int
    /// Work per second (tokens, or answers when no tokens are counted).
    public var rate: Double
  }

  /// Requests in flight per server now.
  public private(set) var limit = 1
  public private(set) var trials: [Trial] = []
  /// True once the count is chosen.
  public private(set) var settled = false
  public let ceiling: Int
  /// Servers the count applies to (each gets `limit`).
  public let servers: Int
  public var gain = 0.05

  private var best: Trial?
  /// Answers still to skip before the window starts (sent under the previous count).
  private var skip = 0
  private var windowStart: Double?
  private var windowWork = 0.0
  private var windowAnswers = 0

  public init(ceiling: Int, servers: Int) {
    self.ceiling = max(1, ceiling)
    self.servers = max(1, servers)
    if self.ceiling == 1 { settled = true }
  }

  /// The count chosen: the best so far until `settled`.
  public var chosen: Int { settled ? limit : (best?.parallel ?? limit) }

  /// Answers a window needs: each slot of each server finishes about twice. Longer windows
  /// measure more calmly but spend longer at the low counts (a ramp to 16 took a tenth of a
  /// 600-request run with four finishes a slot).
  var windowSize: Int { max(6, 2 * limit * servers) }

  /// A window also lasts this long: answers of a few milliseconds (a tiny model on llama.cpp)
  /// fill a window of sixteen in less time than the machine's own noise, and the ramp then
  /// compared noise (it kept 2 of 4 slots, at 0.62 of the best fixed count). Half a second cost
  /// a 20 s run on the simulator 5% against the best fixed count; a quarter costs about 3%.
  public var minimumWindowSeconds = 0.25

  /// Takes one answer: `work` done (tokens, or 1), at `seconds` on any steady clock. Returns
  /// true when `limit` changed.
  public mutating func record(work: Double, at seconds: Double) -> Bool {
    guard !settled else { return false }
    if skip > 0 {
      skip -= 1
      return false
    }
    // The window opens at an answer and counts the work of the answers after it.
    guard let start = windowStart else {
      windowStart = seconds
      return false
    }
    windowWork += work
    windowAnswers += 1
    guard windowAnswers >= windowSize, seconds - start >= minimumWindowSeconds, seconds > start else { return false }
    let trial = Trial(parallel: limit, rate: windowWork / (seconds - start))
    trials.append(trial)
    let previous = limit
    if let best, trial.rate <= best.rate * (1 + gain) {
      // No longer worth it: back to the best, and stay.
      limit = best.parallel
      settled = true
    } else {
      best = trial
      if limit >= ceiling {
        settled = true
      } else {
        // The requests in flight now were sent under the old count.
        skip = limit * servers
        limit = min(ceiling, limit * 2)
      }
    }
    windowStart = nil
    windowWork = 0
    windowAnswers = 0
    return limit != previous
  }
}
