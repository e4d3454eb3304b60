import CaravanCore
import CaravanStorage
import Foundation

/// Dynamic distribution inside a task: claim a chunk, send it with a heartbeat beside it,
/// mark it done, and claim the next, until none is left (see `ChunkClaims` for the rules).
extension ShardRunner {
  /// What a task sends: its own shard, or chunks it claims.
  enum Work {
    case shard(variants: Set<String>, models: Set<String>)
    /// `models` is empty when nothing was left to claim as the task started: it starts no server.
    case dynamic(ChunkClaims, variants: Set<String>, models: Set<String>)

    var hasWork: Bool { !models.isEmpty }
    var variants: Set<String> {
      switch self {
      case .shard(let variants, _), .dynamic(_, let variants, _): return variants
      }
    }
    var models: Set<String> {
      switch self {
      case .shard(_, let models), .dynamic(_, _, let models): return models
      }
    }
  }

  /// What the claims of one task run came to, for its timing line.
  struct ClaimTally {
    var chunks = 0
    var reclaimed = 0

    func record(into event: inout ShardTimingEvent, work: Work) {
      guard case .dynamic(let claims, _, _) = work else { return }
      event.chunks = chunks
      event.chunksReclaimed = reclaimed
      event.claimOperations = claims.operations
    }
  }

  /// Sends the task's shard, or claims chunk after chunk and sends each until none is left.
  func send(_ work: Work, worker: ShardWorker, endpoints: [ShardWorker.Endpoint], stop: StopFlag, tally: inout ClaimTally) async throws -> ShardWorker.Outcome {
    guard case .dynamic(let claims, _, _) = work else { return try await worker.run(endpoints: endpoints, stop: stop) }
    var total = ShardWorker.Outcome(alreadyDone: 0, written: 0, errors: 0, stopped: false)
    // Claimed once the servers answer: a claim made before would go without heartbeats for as
    // long as a model takes to load, and be taken over.
    var next = try await nextClaim(claims, stop: stop)
    while let claim = next {
      tally.chunks += 1
      if claim.generation > 0 { tally.reclaimed += 1 }
      var chunkWorker = worker
      chunkWorker.shard = claim.chunk
      chunkWorker.generation = claim.generation
      // Stops this chunk when the task stops, or when another task took the chunk over.
      let chunkStop = StopFlag()
      let lost = StopFlag()
      let beats = Task {
        var last = ContinuousClock.now
        while !Task.isCancelled {
          if stop.isSet { chunkStop.set() }
          if ContinuousClock.now - last >= claims.heartbeatInterval {
            last = .now
            if !claims.heartbeat([claim]).isEmpty {
              lost.set()
              chunkStop.set()
            }
          }
          try? await Task.sleep(for: .milliseconds(100))
        }
      }
      let outcome: ShardWorker.Outcome
      do {
        outcome = try await chunkWorker.run(endpoints: endpoints, stop: chunkStop)
      } catch {
        beats.cancel()
        throw error
      }
      beats.cancel()
      total.alreadyDone += outcome.alreadyDone
      total.written += outcome.written
      total.errors += outcome.errors
      total.firstRequest = [total.firstRequest, outcome.firstRequest].compactMap { $0 }.min()
      total.lastAnswer = [total.lastAnswer, outcome.lastAnswer].compactMap { $0 }.max()
      if !outcome.stopped {
        try claims.finish(claim)
      } else if lost.isSet, !stop.isSet {
        claims.abandon(claim)
        logger.notice("chunk \(claim.chunk): another task took it over (this task's heartbeats were late); moving on")
      } else {
        total.stopped = true
        return total
      }
      next = try await nextClaim(claims, stop: stop)
    }
    total.stopped = stop.isSet
    return total
  }

  /// The next chunk to send, or nil when this task should end: every chunk is done, or the
  /// chunks left are held by tasks that have heartbeated since this one started waiting (each
  /// is alive and will finish its own). A holder that stops heartbeating meanwhile loses its
  /// chunk to this task.
  func nextClaim(_ claims: ChunkClaims, stop: StopFlag) async throws -> ChunkClaims.Claim? {
    var waitingOn: [Int: ChunkClaims.Heartbeat]?
    while !stop.isSet {
      switch try claims.next() {
      case .claimed(let claim, let reclaimed):
        if reclaimed { logger.notice("chunk \(claim.chunk): taken over (generation \(claim.generation)); its holder stopped heartbeating") }
        return claim
      case .finished:
        return nil
      case .wait(let others):
        if let earlier = waitingOn {
          let alive = others.allSatisfy { chunk, beat in
            guard let before = earlier[chunk] else { return true }
            return beat.generation != before.generation || beat.beat > before.beat
          }
          if alive {
            logger.info("no chunk left to claim; chunks \(others.keys.sorted()) are held by live tasks")
            return nil
          }
        } else {
          waitingOn = others
        }
        let interval = claims.heartbeatInterval
        let until = ContinuousClock.now + interval
        while ContinuousClock.now < until, !stop.isSet { try await Task.sleep(for: .milliseconds(100)) }
      }
    }
    return nil
  }
}
