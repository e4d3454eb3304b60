import CaravanCore
import CaravanStorage
import Foundation

/// `caravan estimate`: reads a spec, finds the past runs of the same model under its `output`
/// (or makes a calibration run first), and predicts GPU-hours, wall time per shard and a
/// `slurm.time` with `Estimate`.
public struct Estimator: Sendable {
  public var submitter: Submitter

  public init(submitter: Submitter) { self.submitter = submitter }

  /// What `estimate` says.
  public struct Result: Sendable {
    public var prediction: Estimate.Prediction
    /// The run directories the rates come from.
    public var runs: [String]
    public var gpuNames: [String]
    public var items: Int
    /// Each past run predicted from the others (needs two or more): (run, predicted, measured) seconds.
    public var pastErrors: [(run: String, predicted: Double, measured: Double)]
    /// The spec's `slurm.time`, when it gives one, in seconds.
    public var requestedSeconds: Int?
    /// The GPU name the runs were chosen by (`--gpu`, or a type in slurm.extra), and whether any
    /// past run was on such a GPU (else every run of the model was used).
    public var gpuHint: String?
    public var gpuMatched: Bool
  }

  public struct NoPastRuns: Error, CustomStringConvertible {
    public var description: String
  }

  /// Estimates the spec; with `calibrate`, first runs its first N prompts in one shard.
  public func estimate(specPath: String, calibrate: Int?, gpu: String? = nil, onEvent: @escaping @Sendable (Submitter.Event) -> Void = { _ in }) async throws -> Result {
    let checked = try submitter.preparer.check(specPath: specPath)
    let spec = checked.spec
    if let calibrate {
      let outcome = try await submitter.submit(specPath: specPath, options: .init(calibration: calibrate), onEvent: onEvent)
      if outcome.collected == nil { try await Self.waitForCompletion(outcome.prepared.run, limit: spec.slurm.time.flatMap(SlurmTime.seconds) ?? 3600) }
    }
    let observed = try Self.pastRuns(of: spec).compactMap(Self.observe)
    // Runs on the GPU the job will get, when the spec or --gpu names one and a past run had it.
    let hint = gpu ?? Self.gpuType(in: spec.slurm.extra)
    let onHinted = hint.map { hint in observed.filter { $0.gpuName?.localizedCaseInsensitiveContains(hint) == true } } ?? []
    let runs = onHinted.isEmpty ? observed : onHinted
    guard let rates = Estimate.Rates(runs) else {
      throw NoPastRuns(description: "no finished run of \(spec.model) (engine \(spec.engine.kind.rawValue)) under \(spec.output) to learn from: run `caravan estimate \(specPath) --calibrate \(min(20, checked.prompts.count))`, which runs the first \(min(20, checked.prompts.count)) prompts first")
    }
    let plan = RunPreparer.plan(checked)
    let prediction = Estimate.predict(shards: Self.taskShares(plan), rates: rates, gpusPerShard: spec.slurm.gpusPerNode)
    var errors: [(String, Double, Double)] = []
    if runs.count >= 2 {
      for (index, run) in runs.enumerated() {
        var others = runs
        others.remove(at: index)
        guard let rates = Estimate.Rates(others), let shards = try? Self.plannedShards(run.path) else { continue }
        let predicted = Estimate.predict(shards: shards, rates: rates, gpusPerShard: 1).wallSeconds
        let measured = run.shards.map { $0.startupSeconds + $0.requestSeconds }.max() ?? 0
        errors.append((run.path, predicted, measured))
      }
    }
    return Result(
      prediction: prediction, runs: runs.map(\.path), gpuNames: Array(Set(runs.compactMap(\.gpuName))).sorted(), items: plan.items.count,
      pastErrors: errors, requestedSeconds: spec.slurm.time.flatMap(SlurmTime.seconds), gpuHint: hint, gpuMatched: !onHinted.isEmpty)
  }

  /// A GPU type named in `#SBATCH` lines: `--gres=gpu:a100:1` or `--constraint=a100`.
  static func gpuType(in extra: [String]) -> String? {
    for line in extra {
      let text = line.trimmingCharacters(in: .whitespaces)
      if let value = text.split(separator: "=", maxSplits: 1).last, text.hasPrefix("--gres=gpu:") {
        let parts = value.split(separator: ":")
        if parts.count == 3 { return String(parts[1]) }
      }
      if text.hasPrefix("--constraint="), let value = text.split(separator: "=", maxSplits: 1).last, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
        return String(value)
      }
    }
    return nil
  }

  /// For `submit`: a warning when past runs (the three newest) say a shard would take longer
  /// than the spec's `slurm.time`; nil without a time limit or past runs.
  public static func timeWarning(spec: JobSpec, plan: Plan, specPath: String) -> String? {
    guard spec.executor != .local, let limit = spec.slurm.time.flatMap(SlurmTime.seconds), limit > 0 else { return nil }
    guard let runs = try? pastRuns(of: spec).suffix(3).compactMap(observe), let rates = Estimate.Rates(runs) else { return nil }
    let prediction = Estimate.predict(shards: taskShares(plan), rates: rates, gpusPerShard: spec.slurm.gpusPerNode)
    guard prediction.wallSeconds > Double(limit) else { return nil }
    return "slurm.time \(Estimate.slurmTime(limit)) looks too short: past runs of \(spec.model) suggest \(Estimate.slurmTime(Int(prediction.wallSeconds.rounded(.up)))) for the longest shard; ask for \(prediction.timeLimit) (see `caravan estimate \(specPath)`)"
  }

  /// Run directories under the spec's output that ran the same model on the same kind of engine.
  static func pastRuns(of spec: JobSpec) throws -> [RunDirectory] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: spec.output)) ?? []
    return names.sorted().map { RunDirectory(path: spec.output + "/" + $0) }.filter { run in
      guard let past = try? run.spec() else { return false }
      return past.model == spec.model && past.engine.kind == spec.engine.kind && past.task == spec.task
    }
  }

  /// What one run measured: its ok records (with their prompts' words) and its shards' spans.
  static func observe(_ run: RunDirectory) -> Estimate.Run? {
    guard let manifest = try? run.manifest() else { return nil }
    var requests: [Estimate.Request] = []
    var shards: [Estimate.Shard] = []
    var gpuName: String?
    let decoder = JSONDecoder()
    for shard in manifest.shards {
      var words: [WorkKey: Int] = [:]
      for (_, line) in LineReader(path: run.layout.shardFile(shard.index)) {
        if let item = try? FastJSON.decode(WorkItem.self, from: line, decoder: decoder) { words[item.key] = Estimate.words(item.input) }
      }
      var latest: [WorkKey: ResultRecord] = [:]
      for record in (try? run.results(shard.index)) ?? [] { latest[record.key] = record }
      for record in latest.values where record.status == .ok {
        let t = record.timings
        requests.append(
          Estimate.Request(
            variant: record.variant, promptWords: words[record.key] ?? 0, promptTokens: t.promptEvalCount ?? 0, generatedTokens: t.evalCount ?? 0,
            wallSeconds: record.wallMs / 1000, prefillSeconds: t.promptEvalDuration.map { Double($0) / 1e9 }, decodeSeconds: t.evalDuration.map { Double($0) / 1e9 }))
      }
    }
    // Each task's last attempt: its servers' start-up, then its requests (with static
    // distribution task i ran shard i; with dynamic, the chunks it claimed).
    for task in 0..<manifest.taskCount {
      let events = (try? JSONLines.read(ShardTimingEvent.self, from: run.layout.timingFile(task)).values) ?? []
      guard let end = events.last(where: { $0.event == .shard }),
        let first = end.firstRequestAt.flatMap(ISOTimestamp.seconds), let last = end.lastRequestAt.flatMap(ISOTimestamp.seconds)
      else { continue }
      let servers = events.filter { $0.event == .server && $0.restartCount == end.restartCount && $0.serverRestarts == 0 }
      let startup = servers.map { ($0.startToReadyMs ?? 0) + ($0.modelLoadMs ?? [:]).values.reduce(0, +) }.max() ?? 0
      gpuName = gpuName ?? servers.compactMap { $0.gpus?.first?.name }.first
      shards.append(Estimate.Shard(requests: end.requestsSent ?? 0, requestSeconds: max(0, last - first), startupSeconds: startup / 1000))
    }
    guard !requests.isEmpty else { return nil }
    let model = (try? run.spec().model) ?? ""
    return Estimate.Run(path: run.path, model: model, gpuName: gpuName, requests: requests, shards: shards)
  }

  /// A run's own plan, task by task, in the shape `Estimate.predict` takes.
  static func plannedShards(_ path: String) throws -> [[Estimate.Item]] {
    let run = RunDirectory(path: path)
    let decoder = JSONDecoder()
    let manifest = try run.manifest()
    let shards = manifest.shards.map { shard in
      LineReader(path: run.layout.shardFile(shard.index)).compactMap { _, line in
        (try? FastJSON.decode(WorkItem.self, from: line, decoder: decoder)).map(Estimate.item)
      }
    }
    return manifest.distribution == .dynamic ? balanced(shards.flatMap { $0 }, into: manifest.taskCount) : shards
  }

  /// What each task sends: its shard with static distribution; with dynamic, an equal share of
  /// the plan (the tasks claim chunks until none is left, so their work evens out).
  static func taskShares(_ plan: Plan) -> [[Estimate.Item]] {
    plan.distribution == .dynamic ? balanced(plan.items.map(Estimate.item), into: plan.tasks) : plan.shards.map(shape)
  }

  /// `items` cut into `parts` contiguous slices that differ in size by at most one.
  static func balanced<T>(_ items: [T], into parts: Int) -> [[T]] {
    let parts = max(1, parts)
    let base = items.count / parts, extra = items.count % parts
    var start = 0
    return (0..<parts).map { index in
      let size = base + (index < extra ? 1 : 0)
      defer { start += size }
      return Array(items[start..<start + size])
    }
  }

  static func shape(_ items: PlanItems.SubSequence) -> [Estimate.Item] {
    items.map(Estimate.item)
  }

  /// Waits for a calibration run on Slurm: until every shard has its records, or `limit` passes.
  static func waitForCompletion(_ run: RunDirectory, limit: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(limit)
    while ContinuousClock.now < deadline {
      if let progress = try? RunProgress.read(run), progress.shards.allSatisfy(\.complete) { return }
      try await Task.sleep(for: .seconds(5))
    }
    throw NoPastRuns(description: "the calibration run \(run.path) did not finish within \(limit) s; see `caravan status \(run.path)`")
  }
}
