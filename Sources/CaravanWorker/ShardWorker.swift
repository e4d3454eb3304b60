import CaravanStorage
import CaravanCore
import CaravanOllama
import Foundation
import Logging
import Synchronization

/// Sends one shard's work items to its servers and appends one record per item.
///
/// Each server gets exactly `parallel` requests in flight: a slot that finishes takes the next
/// item, so a faster server takes more work. Modelfile variants are registered by the caller
/// (see `registerVariants`) whenever a server becomes ready.
public struct ShardWorker: Sendable {
  public var run: RunDirectory
  /// The shard (a chunk, with dynamic distribution) whose items this sends.
  public var shard: Int
  /// The claim generation of the chunk (dynamic distribution): 0 writes the shard's results
  /// file, a chunk taken over writes one of its own (`RunLayout.resultFile(_:generation:)`).
  public var generation = 0
  public var parallel: Int
  public var node: String
  public var jobID: String?
  public var retry = RetryPolicy()
  /// Send again the items whose latest record is an error (`caravan resume --retry-errors`).
  public var retryErrors = false
  /// `task: embed`: inputs per embedding request (`engine.embed_batch`); nil sends each item
  /// for an answer.
  public var embedBatch: Int?
  /// `engine.parallel: auto`: sets the in-flight count per server instead of `parallel`. Shared
  /// by the chunks a task sends, so the count found on one carries to the next.
  public var ramp: ParallelController?
  public var logger: Logger

  public init(run: RunDirectory, shard: Int, parallel: Int, node: String, jobID: String?, logger: Logger) {
    self.run = run
    self.shard = shard
    self.parallel = max(1, parallel)
    self.node = node
    self.jobID = jobID
    self.logger = logger
  }

  /// A server requests go to.
  public struct Endpoint: Sendable {
    public var index: Int
    public var client: any InferenceEngine
    /// Its CUDA_VISIBLE_DEVICES, recorded in each result.
    public var gpu: String?
    /// Set when the worker owns the server and can restart it.
    public var server: SupervisedServer?

    public init(index: Int, client: any InferenceEngine, gpu: String?, server: SupervisedServer?) {
      self.index = index
      self.client = client
      self.gpu = gpu
      self.server = server
    }
  }

  /// What a shard run did.
  public struct Outcome: Sendable, Equatable {
    public var alreadyDone: Int
    public var written: Int
    public var errors: Int
    /// True when a stop request ended the run before every item was sent.
    public var stopped: Bool
    /// When the first request was sent and the last answer recorded (nil when nothing was sent).
    public var firstRequest: Date?
    public var lastAnswer: Date?
  }

  /// The results file this writes.
  var output: String { run.layout.resultFile(shard, generation: generation) }

  /// The shard's items and the ones without a record yet, in any of its results files;
  /// `existing` is this worker's own file.
  public func pending() throws -> (items: [WorkItem], todo: [WorkItem], existing: (values: [ResultRecord], intactBytes: Int)) {
    let items = try run.shardItems(shard)
    let existing = try JSONLines.read(ResultRecord.self, from: output)
    var records = existing.values
    for path in run.resultFiles(shard) where path != output {
      records += try JSONLines.read(ResultRecord.self, from: path).values
    }
    let latest = Self.latestRecords(records)
    let todo = items.filter { item in
      guard let record = latest[item.key] else { return true }
      return retryErrors && record.status == .error
    }
    return (items, todo, existing)
  }

  /// Each key's latest record: files are appended to, so a later line replaces an earlier one,
  /// except that an error never replaces an ok record (as at collect).
  static func latestRecords(_ records: [ResultRecord]) -> [WorkKey: ResultRecord] {
    var latest: [WorkKey: ResultRecord] = [:]
    for record in records where record.status == .ok || latest[record.key]?.status != .ok { latest[record.key] = record }
    return latest
  }

  /// Runs until every item has a record or `stop` is set; in-flight requests always finish.
  public func run(endpoints: [Endpoint], stop: StopFlag) async throws -> Outcome {
    let (items, todo, existing) = try pending()
    // A retried error's new record counts the tries of the earlier runs too.
    let earlierAttempts = Self.latestRecords(existing.values).mapValues(\.attempts)
    logger.info("shard \(shard): \(items.count) items, \(items.count - todo.count) already recorded, \(todo.count) to send to \(endpoints.count) server(s)")
    let output = try AppendOnlyFile(path: output, intactBytes: existing.intactBytes)

    var outcome = Outcome(alreadyDone: items.count - todo.count, written: 0, errors: 0, stopped: false)
    // One item a request, or (embeddings) several of the same model and options.
    let requests = embedBatch.map { EmbedBatches.batches(todo, size: $0) } ?? todo.map { [$0] }
    // The requests run on the thread that reads their answers (plain HTTP's loop): an answer
    // resumes its task there, with no other thread to wake.
    try await withTaskExecutorPreference(PlainLoop.shared) {
      try await withThrowingTaskGroup(of: (Int, [ResultRecord]?).self) { group in
        var next = requests.makeIterator()
        var inFlight = 0
        var perServer = [Int](repeating: 0, count: endpoints.count)
        let clock = ContinuousClock.now
        func dispatch(to server: Int) -> Bool {
          guard !stop.isSet, let batch = next.next() else { return false }
          let endpoint = endpoints[server]
          if outcome.firstRequest == nil { outcome.firstRequest = Date() }
          group.addTask { (server, try await self.send(batch, to: endpoint, stop: stop)) }
          inFlight += 1
          perServer[server] += 1
          return true
        }
        // Every server up to the limit (`parallel`, or what `parallel: auto` has reached), one
        // request a server at a time, so they fill evenly.
        func fill() {
          let limit = ramp?.limit ?? parallel
          var sent = true
          while sent {
            sent = false
            for server in endpoints.indices where perServer[server] < limit {
              guard dispatch(to: server) else { return }
              sent = true
            }
          }
        }
        fill()
        while inFlight > 0, let (server, answer) = try await group.next() {
          inFlight -= 1
          perServer[server] -= 1
          // No records: the items were left to the next run during a drain.
          guard let records = answer else { continue }
          let tokens = records.reduce(0) { $0 + ($1.timings.evalCount ?? 0) }
          ramp?.record(work: tokens > 0 ? Double(tokens) : Double(records.count), at: (ContinuousClock.now - clock).seconds)
          // Refill first, so the server is not left a request short while the records are flushed.
          fill()
          for var record in records {
            record.attempts += earlierAttempts[record.key] ?? 0
            try await output.append(record)
            outcome.written += 1
            if record.status == .error { outcome.errors += 1 }
          }
          outcome.lastAnswer = Date()
        }
        outcome.stopped = stop.isSet && outcome.alreadyDone + outcome.written < items.count
      }
    }
    return outcome
  }

  /// Sends to one server that someone else runs (`caravan worker --url`): registers the
  /// Modelfile variants the pending items need and loads their models (so no request pays for
  /// a load under `engine.request_timeout`), then runs.
  public func run(client: any InferenceEngine, stop: StopFlag) async throws -> Outcome {
    let todo = try pending().todo
    if !todo.isEmpty {
      try await registerVariants(on: client, for: todo)
      let loads = try await loadModels(on: client, for: todo)
      logger.info("loaded on \(client.baseURL): \(loads) (ms)")
    }
    return try await run(endpoints: [Endpoint(index: 0, client: client, gpu: nil, server: nil)], stop: stop)
  }

  /// Registers the variants the items use (Ollama creates Modelfile variants as models); a
  /// server that restarted gets them again (creating an existing model is harmless).
  public func registerVariants(on client: any InferenceEngine, for items: [WorkItem]) async throws {
    try await registerVariants(on: client, named: Set(items.map(\.variant)))
  }

  /// Registers the named variants (those with a Modelfile).
  public func registerVariants(on client: any InferenceEngine, named needed: Set<String>) async throws {
    for variant in try run.manifest().variants where needed.contains(variant.name) {
      guard variant.create != nil else { continue }
      do {
        try await client.register(variant)
        logger.info("created model \(variant.model) for variant \(variant.name) on \(client.baseURL)")
      } catch {
        if error.isMissingModel { throw WorkerError.missingModel(variant.baseModel, error) }
        throw WorkerError.fatal("cannot create model \(variant.model) for variant '\(variant.name)' from \(variant.baseModel): \(error)")
      }
    }
  }

  /// Loads each model the items use and returns how long each load took, in milliseconds, so
  /// model load is measured once per server and not inside the first requests' timings.
  /// A model the server does not have fails the shard here, with one message.
  public func loadModels(on client: any InferenceEngine, for items: [WorkItem]) async throws -> [String: Double] {
    try await loadModels(on: client, models: Set(items.map(\.model)))
  }

  /// Loads the models; see `loadModels(on:for:)`.
  public func loadModels(on client: any InferenceEngine, models: Set<String>) async throws -> [String: Double] {
    var loads: [String: Double] = [:]
    for model in models.sorted() {
      let started = ContinuousClock.now
      do {
        // An embedding model may not generate (Ollama refuses it): it is loaded by embedding.
        let reported = try await embedBatch == nil
          ? client.load(model: model)
          : client.embed(model: model, inputs: ["caravan: load"], options: [:]).loadDuration.map { .nanoseconds($0) }
        loads[model] = (reported ?? ContinuousClock.now - started).milliseconds
      } catch {
        if error.isMissingModel { throw WorkerError.missingModel(model, error) }
        throw WorkerError.fatal("cannot load model \(model) on \(client.baseURL): \(error)")
      }
    }
    return loads
  }

  /// Sends one request (one item, or a batch of embedding inputs) with bounded retries, and
  /// returns a record per item (status ok or error). Failures a server crash explains do not
  /// count against the bound: the request waits for the restarted server and is sent again.
  /// Returns nil when the worker is draining (`stop` is set) and the request failed on the way
  /// or its server stopped: a requeue or scancel without -b sends TERM to every process of the
  /// job, servers included, so the items are left to the next run rather than written as errors
  /// (resume sends them again, once).
  func send(_ batch: [WorkItem], to endpoint: Endpoint, stop: StopFlag = StopFlag()) async throws -> [ResultRecord]? {
    guard let first = batch.first else { return [] }
    let label = batch.count == 1 ? "\(first.key)" : "\(first.key) and \(batch.count - 1) more"
    var attempts = 0
    var counted = 0
    while true {
      attempts += 1
      let generation: Int
      let client: any InferenceEngine
      do {
        (generation, client) = try await endpoint.server?.readyClient() ?? (0, endpoint.client)
      } catch where stop.isSet && !(error is CancellationError) {
        logger.notice("\(label): left to the next run (the worker is stopping: \(error))")
        return nil
      }
      let started = ContinuousClock.now
      do {
        if embedBatch != nil {
          let answer = try await client.embed(model: first.model, inputs: batch.map(\.embeddingText), options: first.options)
          return zip(batch, answer.vectors).map { item, vector in
            var record = makeRecord(item, .ok, endpoint: endpoint, attempts: attempts, since: started)
            record.embedding = vector
            return record
          }
        }
        return [answer(first, try await client.complete(first), endpoint: endpoint, attempts: attempts, since: started)]
      } catch {
        // A request cut short because the shard is being cancelled is not a transport error.
        // (The clients turn a cancellation into a transport error, so ask the task.)
        if Task.isCancelled { throw CancellationError() }
        if stop.isSet, error.isRetryable {
          logger.notice("\(label): left to the next run (attempt \(attempts) failed while the worker stops: \(error))")
          return nil
        }
        // A restarted server answers 404 for a created model until the variants are registered
        // again: a request that left before the crash and arrived after it is sent again too.
        if error.isRetryable || error.isMissingModel, let server = endpoint.server, try await recover(server, after: generation, stop: stop) {
          logger.warning("\(label): server \(endpoint.index) restarted after attempt \(attempts) (\(error)); sending again")
          continue
        }
        if error.isMissingModel { throw WorkerError.missingModel(first.model, error) }
        counted += 1
        if error.isRetryable, counted < retry.maxAttempts {
          logger.warning("\(label): attempt \(attempts) failed (\(error)); retrying")
          try await Task.sleep(for: retry.delay(afterAttempt: counted))
          continue
        }
        return batch.map { item in
          var record = makeRecord(item, .error, endpoint: endpoint, attempts: attempts, since: started)
          record.error = error.description
          record.check(format: item.format)
          return record
        }
      }
    }
  }

  /// The record of an answered item: text, timings, time to first token, time queued, and the
  /// structured-output check.
  private func answer(_ item: WorkItem, _ completion: Completion, endpoint: Endpoint, attempts: Int, since started: ContinuousClock.Instant) -> ResultRecord {
    var record = makeRecord(item, .ok, endpoint: endpoint, attempts: attempts, since: started)
    record.response = completion.response
    record.doneReason = completion.doneReason
    record.timings = completion.timings
    record.check(format: item.format)
    record.ttftMs = completion.timeToFirstToken.map(\.milliseconds)
    // Only the engine's own prefill time tells how long a request queued (a prefill measured
    // as the time to the first token leaves nothing).
    if let ttft = record.ttftMs, completion.timings.source == .engine {
      let serverWork = Double((completion.timings.loadDuration ?? 0) + (completion.timings.promptEvalDuration ?? 0)) / 1e6
      record.queueMs = (max(0, ttft - serverWork) * 1000).rounded() / 1000
    }
    return record
  }

  /// `server.recover(after:)`, except that a server stopped with the job during a drain
  /// answers false: the caller then leaves the item (stop is set) instead of failing the shard.
  private func recover(_ server: SupervisedServer, after generation: Int, stop: StopFlag) async throws -> Bool {
    do {
      return try await server.recover(after: generation)
    } catch where stop.isSet && !(error is CancellationError) {
      return false
    }
  }

  private func makeRecord(_ item: WorkItem, _ status: ResultRecord.Status, endpoint: Endpoint, attempts: Int, since start: ContinuousClock.Instant) -> ResultRecord {
    var record = ResultRecord(item: item, status: status, node: node, shard: shard, attempts: attempts, wallMs: (ContinuousClock.now - start).milliseconds, finishedAt: Date().preciseStamp)
    record.jobId = jobID
    record.server = endpoint.index
    record.gpu = endpoint.gpu
    return record
  }
}

/// A task's `ParallelRamp`, shared by the runs of its chunks.
public final class ParallelController: Sendable {
  private let state: Mutex<ParallelRamp>

  public init(_ ramp: ParallelRamp) { state = Mutex(ramp) }

  public var limit: Int { state.withLock { $0.limit } }
  public var snapshot: ParallelRamp { state.withLock { $0 } }

  public func record(work: Double, at seconds: Double) {
    state.withLock { _ = $0.record(work: work, at: seconds) }
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
  case missingModel(String, OllamaError)
  public var description: String {
    switch self {
    case .fatal(let message): return message
    case .missingModel(let model, let error):
      return "model '\(model)' is not in the server's model store (\(error)). Pull it into engine.models_dir first: `caravan models pull \(model) --store <engine.models_dir>` (or `ollama pull \(model)` with OLLAMA_MODELS set to it)."
    }
  }
}

extension WorkItem {
  /// What `task: embed` embeds: the prompt text (`EmbedChecks` refused conversations).
  var embeddingText: String {
    switch input {
    case .prompt(let text): return text
    case .messages(let messages): return messages.map(\.content).joined(separator: "\n")
    }
  }
}
