/// Ollama's request scheduling as the simulator models it: `slots` requests decode at once
/// (OLLAMA_NUM_PARALLEL), up to `queueLimit` wait (OLLAMA_MAX_QUEUE), the rest get 503.
actor SlotPool {
  let slots: Int
  let queueLimit: Int
  private var busy = 0
  private var waiters: [CheckedContinuation<Void, Never>] = []
  private(set) var stats = Stats()

  struct Stats: Sendable {
    var requests = 0
    var rejected = 0
    var maxInFlight = 0
    /// Time-weighted in-flight histogram: seconds spent with exactly N requests decoding.
    var secondsAtInFlight: [Int: Double] = [:]
    var lastChange = ContinuousClock.now
    /// When every slot was first busy; the steady phase starts here.
    var firstFull: ContinuousClock.Instant?
    /// The histogram since `firstFull`, up to the last change.
    var sinceFull: [Int: Double] = [:]
    /// The histogram of the steady phase as of the last time every slot stopped being busy.
    var steadyUntilLastFull: [Int: Double] = [:]
  }

  init(slots: Int, queueLimit: Int) {
    self.slots = max(1, slots)
    self.queueLimit = max(0, queueLimit)
  }

  var inFlight: Int { busy }
  var queued: Int { waiters.count }

  /// Seconds at each in-flight count between the first and the last moment every slot was busy:
  /// the steady phase, without the ramp-up before it and the drain after it. Empty until every
  /// slot has been busy once.
  var steadyHistogram: [Int: Double] {
    guard busy == slots, stats.firstFull != nil else { return stats.steadyUntilLastFull }
    // Every slot is busy right now: the steady phase runs up to this moment.
    var histogram = stats.sinceFull
    histogram[slots, default: 0] += (ContinuousClock.now - stats.lastChange).seconds
    return histogram
  }

  /// Waits for a slot; false when the queue is full (the caller answers 503).
  func acquire() async -> Bool {
    stats.requests += 1
    if busy < slots {
      setBusy(busy + 1)
      return true
    }
    guard waiters.count < queueLimit else {
      stats.rejected += 1
      return false
    }
    await withCheckedContinuation { waiters.append($0) }
    return true
  }

  func release() {
    if waiters.isEmpty {
      setBusy(busy - 1)
    } else {
      // Hand the slot straight to the next waiter: in-flight stays the same.
      waiters.removeFirst().resume()
    }
  }

  private func setBusy(_ value: Int) {
    let now = ContinuousClock.now
    let elapsed = (now - stats.lastChange).seconds
    stats.secondsAtInFlight[busy, default: 0] += elapsed
    if stats.firstFull != nil { stats.sinceFull[busy, default: 0] += elapsed }
    if busy == slots, value < slots { stats.steadyUntilLastFull = stats.sinceFull }
    stats.lastChange = now
    busy = value
    stats.maxInFlight = max(stats.maxInFlight, busy)
    if busy == slots, stats.firstFull == nil { stats.firstFull = now }
  }
}
