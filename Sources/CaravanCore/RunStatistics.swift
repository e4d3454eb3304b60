import Foundation

/// Aggregates merged records, fed one at a time in plan order, into what the reports show:
/// per-variant counts, per-node timing, and the sweep table. Memory does not grow with the
/// number of records (only with nodes, variants and vocabulary).
public struct RunStatistics: Sendable {
  /// Per node: requests, tokens and time.
  public struct NodeTiming: Sendable, Equatable, Codable {
    public var node: String
    public var requests = 0
    public var errors = 0
    public var promptTokens = 0
    public var generatedTokens = 0
    /// Sums of Ollama's nanosecond fields, for rates.
    public var promptEvalNanoseconds = 0
    public var evalNanoseconds = 0
    public var loadNanoseconds = 0
    /// Sum of per-request wall time (several run at once, so this exceeds the wall span).
    public var requestMilliseconds = 0.0
    /// First request start and last request end seen on this node.
    public var firstStart: Date?
    public var lastEnd: Date?

    public var prefillTokensPerSecond: Double? { promptEvalNanoseconds > 0 ? Double(promptTokens) / Double(promptEvalNanoseconds) * 1e9 : nil }
    public var decodeTokensPerSecond: Double? { evalNanoseconds > 0 ? Double(generatedTokens) / Double(evalNanoseconds) * 1e9 : nil }
    /// Seconds from the node's first request to its last answer.
    public var wallSeconds: Double? { firstStart.flatMap { start in lastEnd.map { $0.timeIntervalSince(start) } } }
  }

  /// Per variant: the tutorial's lesson, measured.
  public struct VariantSweep: Sendable, Equatable, Codable {
    public var variant: String
    public var options: String
    public var responses = 0
    public var errors = 0
    /// Prompts that had at least one answer under this variant.
    public var prompts = 0
    /// Sum over prompts of distinct answers among that prompt's repeats (divide by `prompts`).
    var distinctAnswerSum = 0
    /// Sum over prompts of the mean pairwise word-set similarity of its repeats.
    var similaritySum = 0.0
    var promptsWithPairs = 0
    var lengthSum = 0.0
    var lengthSquareSum = 0.0
    var unigrams: Set<String> = []
    var bigrams: Set<String> = []
    var unigramCount = 0
    var bigramCount = 0

    public var distinctAnswersPerPrompt: Double { prompts > 0 ? Double(distinctAnswerSum) / Double(prompts) : 0 }
    public var meanLength: Double { responses > 0 ? lengthSum / Double(responses) : 0 }
    public var lengthStdev: Double {
      guard responses > 1 else { return 0 }
      let mean = meanLength
      return (max(0, lengthSquareSum / Double(responses) - mean * mean) * Double(responses) / Double(responses - 1)).squareRoot()
    }
    /// Distinct words over all words (higher: more varied wording).
    public var distinct1: Double { unigramCount > 0 ? Double(unigrams.count) / Double(unigramCount) : 0 }
    public var distinct2: Double { bigramCount > 0 ? Double(bigrams.count) / Double(bigramCount) : 0 }
    /// Mean Jaccard similarity of the word sets of two repeats of the same prompt (1: identical).
    public var meanPairwiseSimilarity: Double? { promptsWithPairs > 0 ? similaritySum / Double(promptsWithPairs) : nil }
  }

  public private(set) var nodes: [String: NodeTiming] = [:]
  public private(set) var sweep: [VariantSweep]
  private var index: [String: Int]
  /// The repeats of one (prompt, variant), which plan order keeps together.
  private var group: (id: String, variant: String, answers: [String])?

  public init(variants: [Variant]) {
    sweep = variants.map { variant in
      let options = variant.options.keys.sorted().map { "\($0)=\(variant.options[$0]!.compactDescription)" }.joined(separator: " ")
      return VariantSweep(variant: variant.name, options: options)
    }
    index = Dictionary(uniqueKeysWithValues: variants.enumerated().map { ($0.element.name, $0.offset) })
  }

  public mutating func add(_ record: ResultRecord) {
    var node = nodes[record.node] ?? NodeTiming(node: record.node)
    node.requests += 1
    if record.status == .error { node.errors += 1 }
    node.promptTokens += record.promptEvalCount ?? 0
    node.generatedTokens += record.evalCount ?? 0
    node.promptEvalNanoseconds += record.promptEvalDuration ?? 0
    node.evalNanoseconds += record.evalDuration ?? 0
    node.loadNanoseconds += record.loadDuration ?? 0
    node.requestMilliseconds += record.wallMs
    if let end = try? Date.ISO8601FormatStyle().parse(record.finishedAt) {
      let start = end.addingTimeInterval(-record.wallMs / 1000)
      node.firstStart = min(node.firstStart ?? start, start)
      node.lastEnd = max(node.lastEnd ?? end, end)
    }
    nodes[record.node] = node

    if group?.id != record.id || group?.variant != record.variant { closeGroup() }
    if group == nil { group = (record.id, record.variant, []) }
    guard let position = index[record.variant] else { return }
    if record.status == .error {
      sweep[position].errors += 1
      return
    }
    let text = record.response ?? ""
    group?.answers.append(text)
    let words = text.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
    sweep[position].responses += 1
    sweep[position].lengthSum += Double(words.count)
    sweep[position].lengthSquareSum += Double(words.count * words.count)
    sweep[position].unigrams.formUnion(words)
    sweep[position].unigramCount += words.count
    if words.count > 1 {
      for i in 1..<words.count { sweep[position].bigrams.insert(words[i - 1] + " " + words[i]) }
      sweep[position].bigramCount += words.count - 1
    }
  }

  /// Call after the last record.
  public mutating func finish() { closeGroup() }

  private mutating func closeGroup() {
    guard let current = group, let position = index[current.variant] else {
      group = nil
      return
    }
    group = nil
    guard !current.answers.isEmpty else { return }
    sweep[position].prompts += 1
    sweep[position].distinctAnswerSum += Set(current.answers).count
    let sets = current.answers.map { Set($0.lowercased().split(whereSeparator: \.isWhitespace)) }
    guard sets.count > 1 else { return }
    var total = 0.0, pairs = 0
    for i in 0..<sets.count {
      for j in (i + 1)..<sets.count {
        let union = sets[i].union(sets[j]).count
        total += union == 0 ? 1 : Double(sets[i].intersection(sets[j]).count) / Double(union)
        pairs += 1
      }
    }
    sweep[position].similaritySum += total / Double(pairs)
    sweep[position].promptsWithPairs += 1
  }
}
