import CaravanCore
import CaravanOllama
import Foundation
import Logging
import Synchronization

/// Runs one shard inside the job: registers Modelfile variants, sends every item not yet
/// recorded with `parallel` requests in flight, and appends one record per item.
public struct ShardWorker: Sendable {
  public var run: RunDirectory
  public var shard: Int
  public var client: OllamaClient
  public var parallel: Int
  public var node: String
  public var jobID: String?
  public var retry = RetryPolicy()
  public var logger: Logger

  public init(run: RunDirectory, shard: Int, client: OllamaClient, parallel: Int, node: String, jobID: String?, logger: Logger) {
    self.run = run
    self.shard = shard
    self.client = client
    self.parallel = max(1, parallel)
    self.node = node
    self.jobID = jobID
    self.logger = logger
  }

  /// What a shard run did.
  public struct Outcome: Sendable, Equatable {
    public var alreadyDone: Int
    public var written: Int
    public var errors: Int
    /// True when a stop request ended the run before every item was sent.
    public var stopped: Bool
  }

  /// Runs until every item has a record or `stop` is set; in-flight requests always finish.
  public func run(stop: StopFlag) async throws -> Outcome {
    let items = try run.shardItems(shard)
    let existing = try JSONLines.read(ResultRecord.self, from: run.layout.resultFile(shard))
    let done = Set(existing.values.map(\.key))
    let todo = items.filter { !done.contains($0.key) }
    logger.info("shard \(shard): \(items.count) items, \(items.count - todo.count) already recorded, \(todo.count) to send")
    let output = try AppendOnlyFile(path: run.layout.resultFile(shard), intactBytes: existing.intactBytes)

    try await registerVariants(for: todo)

    var outcome = Outcome(alreadyDone: items.count - todo.count, written: 0, errors: 0, stopped: false)
    try await withThrowingTaskGroup(of: ResultRecord.self) { group in
      var next = todo.makeIterator()
      var inFlight = 0
      func collect(_ record: ResultRecord) async throws {
        try await output.append(record)
        outcome.written += 1
        if record.status == .error { outcome.errors += 1 }
      }
      while true {
        while inFlight < parallel, !stop.isSet, let item = next.next() {
          group.addTask { try await self.send(item) }
          inFlight += 1
        }
        guard inFlight > 0, let record = try await group.next() else { break }
        inFlight -= 1
        try await collect(record)
      }
      outcome.stopped = stop.isSet && outcome.alreadyDone + outcome.written < items.count
    }
    return outcome
  }

  /// Modelfile variants become server-side models through `/api/create` before their first request.
  func registerVariants(for items: [WorkItem]) async throws {
    let needed = Set(items.map(\.variant))
    for variant in try run.manifest().variants where needed.contains(variant.name) {
      guard let body = variant.create else { continue }
      do {
        try await client.create(body)
        logger.info("created model \(variant.model) for variant \(variant.name)")
      } catch {
        throw WorkerError.fatal("cannot create model \(variant.model) for variant '\(variant.name)' from \(variant.baseModel): \(error)")
      }
    }
  }

  /// Sends one item with bounded retries; returns its record (status ok or error).
  func send(_ item: WorkItem) async throws -> ResultRecord {
    var attempts = 0
    while true {
      attempts += 1
      let started = ContinuousClock.now
      do {
        let completion = try await client.complete(item)
        var record = makeRecord(item, .ok, attempts: attempts, since: started)
        record.response = completion.response
        record.doneReason = completion.doneReason
        record.totalDuration = completion.totalDuration
        record.loadDuration = completion.loadDuration
        record.promptEvalCount = completion.promptEvalCount
        record.promptEvalDuration = completion.promptEvalDuration
        record.evalCount = completion.evalCount
        record.evalDuration = completion.evalDuration
        record.ttftMs = completion.timeToFirstToken.map(milliseconds)
        return record
      } catch {
        if error.isMissingModel {
          throw WorkerError.fatal("model '\(item.model)' is not in the server's model store: \(error). Pull it first (`ollama pull \(item.model)` into engine.models_dir).")
        }
        if error.isRetryable, attempts < retry.maxAttempts {
          logger.warning("\(item.key): attempt \(attempts) failed (\(error)); retrying")
          try await Task.sleep(for: retry.delay(afterAttempt: attempts))
          continue
        }
        var record = makeRecord(item, .error, attempts: attempts, since: started)
        record.error = error.description
        return record
      }
    }
  }

  private func makeRecord(_ item: WorkItem, _ status: ResultRecord.Status, attempts: Int, since start: ContinuousClock.Instant) -> ResultRecord {
    var record = ResultRecord(item: item, status: status, node: node, shard: shard, attempts: attempts, wallMs: milliseconds(ContinuousClock.now - start), finishedAt: Date().ISO8601Format())
    record.jobId = jobID
    return record
  }
}

/// Bounded retries with jittered exponential backoff.
public struct RetryPolicy: Sendable {
  public var maxAttempts = 5
  public var baseDelay: Duration = .milliseconds(250)
  public var maxDelay: Duration = .seconds(10)
  public init() {}

  public func delay(afterAttempt attempt: Int) -> Duration {
    let exponential = baseDelay * (1 << min(attempt - 1, 10))
    let capped = min(exponential, maxDelay)
    return capped * Double.random(in: 0.5...1.0)
  }
}

/// Set once (by SIGTERM, say) to stop dispatching new requests.
public final class StopFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  public init() {}
  public var isSet: Bool { flag.load(ordering: .acquiring) }
  public func set() { flag.store(true, ordering: .releasing) }
}

/// A failure that ends the shard: retrying items one by one would only repeat it.
public enum WorkerError: Error, CustomStringConvertible {
  case fatal(String)
  public var description: String {
    switch self {
    case .fatal(let message): return message
    }
  }
}

/// A duration in milliseconds, to the microsecond.
func milliseconds(_ duration: Duration) -> Double {
  let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  return (ms * 1000).rounded() / 1000
}
