/// `caravan estimate`: GPU-hours, wall time per shard and a `slurm.time` for a spec, predicted
/// from what past runs of the same model measured. Pure arithmetic over observations.
///
/// The model: a request's wall time is a fixed overhead plus its prompt tokens at the observed
/// prefill rate plus its generated tokens at the observed decode rate. A shard sends its
/// requests with the observed concurrency (the sum of request wall times over the span from the
/// first request to the last), after its servers' observed start-up. Prompt tokens are counted
/// from the prompt's words with the observed tokens per word; generated tokens are the observed
/// mean of the same variant (else of the run), capped by the item's `num_predict`.
public enum Estimate {
  /// One finished ok request of a past run.
  public struct Request: Sendable, Equatable {
    public var variant: String
    public var promptWords: Int
    public var promptTokens: Int
    public var generatedTokens: Int
    public var wallSeconds: Double
    /// The engine's own prefill and decode time, when it reports them.
    public var prefillSeconds: Double?
    public var decodeSeconds: Double?

    public init(variant: String, promptWords: Int, promptTokens: Int, generatedTokens: Int, wallSeconds: Double, prefillSeconds: Double?, decodeSeconds: Double?) {
      self.variant = variant
      self.promptWords = promptWords
      self.promptTokens = promptTokens
      self.generatedTokens = generatedTokens
      self.wallSeconds = wallSeconds
      self.prefillSeconds = prefillSeconds
      self.decodeSeconds = decodeSeconds
    }
  }

  /// One shard of a past run, from its timing file.
  public struct Shard: Sendable, Equatable {
    public var requests: Int
    /// From the first request sent to the last answer.
    public var requestSeconds: Double
    /// Server start to ready, plus model loads.
    public var startupSeconds: Double
    public init(requests: Int, requestSeconds: Double, startupSeconds: Double) {
      self.requests = requests
      self.requestSeconds = requestSeconds
      self.startupSeconds = startupSeconds
    }
  }

  /// A past run, as observed.
  public struct Run: Sendable, Equatable {
    public var path: String
    public var model: String
    public var gpuName: String?
    public var requests: [Request]
    public var shards: [Shard]
    public init(path: String, model: String, gpuName: String?, requests: [Request], shards: [Shard]) {
      self.path = path
      self.model = model
      self.gpuName = gpuName
      self.requests = requests
      self.shards = shards
    }
  }

  /// What the runs measured, as rates.
  public struct Rates: Sendable, Equatable {
    public var overheadSeconds: Double
    public var prefillSecondsPerToken: Double
    public var decodeSecondsPerToken: Double
    public var tokensPerWord: Double
    public var concurrency: Double
    public var startupSeconds: Double
    public var generatedTokensByVariant: [String: Double]
    public var generatedTokensMean: Double
    public var requests: Int

    /// Nil without one ok request with a measured span.
    public init?(_ runs: [Run]) {
      let requests = runs.flatMap(\.requests)
      let shards = runs.flatMap(\.shards).filter { $0.requests > 0 && $0.requestSeconds > 0 }
      guard !requests.isEmpty, !shards.isEmpty else { return nil }
      func sum(_ values: [Double]) -> Double { values.reduce(0, +) }
      let prompt = Double(requests.reduce(0) { $0 + $1.promptTokens }), generated = Double(requests.reduce(0) { $0 + $1.generatedTokens })
      let prefill = sum(requests.compactMap(\.prefillSeconds)), decode = sum(requests.compactMap(\.decodeSeconds))
      let wall = sum(requests.map(\.wallSeconds))
      // Without engine timings (vLLM, SGLang), the whole wall time is spread over the generated tokens.
      decodeSecondsPerToken = generated > 0 ? (decode > 0 ? decode : wall) / generated : 0
      prefillSecondsPerToken = prompt > 0 && prefill > 0 ? prefill / prompt : 0
      overheadSeconds = max(0, (wall - prompt * prefillSecondsPerToken - generated * decodeSecondsPerToken) / Double(requests.count))
      let words = requests.reduce(0) { $0 + $1.promptWords }
      tokensPerWord = words > 0 ? prompt / Double(words) : 1.3
      // Requests in flight at once, as the runs' shards managed it.
      concurrency = max(1, wall / sum(shards.map(\.requestSeconds)))
      startupSeconds = sum(shards.map(\.startupSeconds)) / Double(shards.count)
      var byVariant: [String: (Double, Int)] = [:]
      for request in requests { byVariant[request.variant, default: (0, 0)].0 += Double(request.generatedTokens); byVariant[request.variant, default: (0, 0)].1 += 1 }
      generatedTokensByVariant = byVariant.mapValues { $0.0 / Double($0.1) }
      generatedTokensMean = generated / Double(requests.count)
      self.requests = requests.count
    }

    /// A request's predicted wall time.
    public func seconds(promptWords: Int, variant: String, numPredict: Int?) -> Double {
      var generated = generatedTokensByVariant[variant] ?? generatedTokensMean
      if let numPredict, numPredict > 0 { generated = min(generated, Double(numPredict)) }
      return overheadSeconds + Double(promptWords) * tokensPerWord * prefillSecondsPerToken + generated * decodeSecondsPerToken
    }
  }

  /// The prediction for a plan.
  public struct Prediction: Sendable, Equatable {
    public var shardSeconds: [Double]
    public var gpusPerShard: Int
    public var rates: Rates
    /// The longest shard: the job's wall time when every array task runs at once.
    public var wallSeconds: Double { shardSeconds.max() ?? 0 }
    public var gpuHours: Double { shardSeconds.reduce(0, +) * Double(gpusPerShard) / 3600 }
    /// A `slurm.time` with room: half as long again as the longest shard, and at least two minutes more.
    public var timeLimitSeconds: Int { Int((max(wallSeconds * 1.5, wallSeconds + 120) / 60).rounded(.up)) * 60 }
    public var timeLimit: String { slurmTime(timeLimitSeconds) }
  }

  /// What a prediction needs of one work item.
  public typealias Item = (words: Int, variant: String, numPredict: Int?)

  /// A work item's prompt words, variant and `num_predict`.
  public static func item(_ item: WorkItem) -> Item {
    (words(item.input), item.variant, item.options["num_predict"]?.intValue)
  }

  /// Predicts each shard's wall time: start-up, then its requests at the observed concurrency.
  public static func predict(shards: [[Item]], rates: Rates, gpusPerShard: Int) -> Prediction {
    let seconds = shards.map { items in
      rates.startupSeconds + items.reduce(0) { $0 + rates.seconds(promptWords: $1.words, variant: $1.variant, numPredict: $1.numPredict) } / rates.concurrency
    }
    return Prediction(shardSeconds: seconds, gpusPerShard: max(1, gpusPerShard), rates: rates)
  }

  /// Words of a prompt, the unit prompt tokens are counted from.
  public static func words(_ input: PromptInput) -> Int {
    switch input {
    case .prompt(let text): return text.split(whereSeparator: \.isWhitespace).count
    case .messages(let messages): return messages.reduce(0) { $0 + $1.content.split(whereSeparator: \.isWhitespace).count }
    }
  }

  /// Seconds as Slurm writes a time limit: `HH:MM:SS`, or `D-HH:MM:SS` past a day.
  public static func slurmTime(_ seconds: Int) -> String {
    let s = max(0, seconds)
    let days = s / 86_400, hours = s % 86_400 / 3600, minutes = s % 3600 / 60, rest = s % 60
    let clock = [hours, minutes, rest].map { $0 < 10 ? "0\($0)" : String($0) }.joined(separator: ":")
    return days > 0 ? "\(days)-\(clock)" : clock
  }
}
