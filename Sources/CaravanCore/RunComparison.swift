/// Two runs compared answer by answer (`caravan diff`): did a new model, quantisation or setting
/// change the answers? Pure: it takes each run's records and returns the figures.
///
/// Records are matched by key (prompt id, variant, repeat) when both runs have the same repeats
/// of a prompt and variant. When the repeats differ (one run sent each prompt once, the other
/// three times), each answer of one run is compared with each answer of the other for that
/// prompt and variant. Only ok records are compared; an error on either side is counted apart.
public struct RunComparison: Sendable, Equatable {
  /// One variant's figures (a variant both runs have, by name).
  public struct VariantFigures: Sendable, Equatable {
    public var variant: String
    /// Answer pairs compared.
    public var pairs: Int
    /// Pairs whose answers are byte for byte the same.
    public var identical: Int
    /// Share of identical pairs (nil with no pair).
    public var identicalShare: Double? { pairs > 0 ? Double(identical) / Double(pairs) : nil }
    /// Mean word-bag similarity of the pairs (1 is the same words as often, 0 no word in common).
    public var meanSimilarity: Double?
    /// Mean answer length in characters, in run A and in run B.
    public var meanCharactersA: Double?
    public var meanCharactersB: Double?
    /// Decode rate (generated tokens over decode time, all ok records of the variant), per run.
    public var decodeTokensPerSecondA: Double?
    public var decodeTokensPerSecondB: Double?
    /// Pairs not compared because one side is an error record.
    public var errorPairs: Int
    /// Structured runs: pairs where both answers parsed as JSON, and those whose parsed values
    /// are equal (for a classifier, the same label).
    public var parsedPairs = 0
    public var parsedAgreeing = 0
    public var labelAgreement: Double? { parsedPairs > 0 ? Double(parsedAgreeing) / Double(parsedPairs) : nil }

    /// B's mean length over A's, less one (0.1 is 10% longer); nil without both.
    public var lengthChange: Double? { ratioChange(meanCharactersB, meanCharactersA) }
    /// B's decode rate over A's, less one.
    public var decodeChange: Double? { ratioChange(decodeTokensPerSecondB, decodeTokensPerSecondA) }
  }

  /// A pair whose answers differ, with its similarity.
  public struct Change: Sendable, Equatable {
    public var id: String
    public var variant: String
    public var repeatA: Int
    public var repeatB: Int
    public var similarity: Double
    public var answerA: String
    public var answerB: String
  }

  public var variants: [VariantFigures]
  /// Variant names only one run has.
  public var variantsOnlyInA: [String]
  public var variantsOnlyInB: [String]
  /// Keys (prompt id, variant, repeat) one run has and the other does not.
  public var keysOnlyInA: Int
  public var keysOnlyInB: Int
  /// Prompt ids both runs have.
  public var commonPrompts: Int
  /// How records were matched: "key" when every compared prompt and variant has the same
  /// repeats in both runs, else "id and variant".
  public var matchedBy: String
  /// The pairs that changed most (lowest similarity first), at most `changeLimit`.
  public var mostChanged: [Change]

  /// Compares the latest record of each key of run A with run B's.
  public static func compare(_ a: [ResultRecord], _ b: [ResultRecord], changeLimit: Int = 20) -> RunComparison {
    let groupsA = group(a), groupsB = group(b)
    let variantsA = orderedVariants(a), variantsB = orderedVariants(b)
    let namesB = Set(variantsB), namesA = Set(variantsA)
    var figures: [String: VariantFigures] = [:]
    var sums: [String: (similarity: Double, charsA: Double, countA: Int, charsB: Double, countB: Int)] = [:]
    var changes: [Change] = []
    var everyRepeatMatched = true
    for variant in variantsA where namesB.contains(variant) {
      figures[variant] = VariantFigures(variant: variant, pairs: 0, identical: 0, errorPairs: 0)
      sums[variant] = (0, 0, 0, 0, 0)
    }
    for (key, recordsA) in groupsA {
      guard let recordsB = groupsB[key], var figure = figures[key.variant], var sum = sums[key.variant] else { continue }
      let repeatsA = recordsA.map(\.repeat), repeatsB = recordsB.map(\.repeat)
      let byKey = repeatsA == repeatsB
      if !byKey { everyRepeatMatched = false }
      let pairs: [(ResultRecord, ResultRecord)] = byKey ? Array(zip(recordsA, recordsB)) : recordsA.flatMap { x in recordsB.map { (x, $0) } }
      for (x, y) in pairs {
        guard x.status == .ok, y.status == .ok else {
          figure.errorPairs += 1
          continue
        }
        let answerA = x.response ?? "", answerB = y.response ?? ""
        figure.pairs += 1
        if let parsedA = x.parsed, let parsedB = y.parsed {
          figure.parsedPairs += 1
          if parsedA.sameJSON(as: parsedB) { figure.parsedAgreeing += 1 }
        }
        let similarity: Double
        if answerA == answerB {
          figure.identical += 1
          similarity = 1
        } else {
          similarity = wordSimilarity(answerA, answerB)
          changes.append(Change(id: key.id, variant: key.variant, repeatA: x.repeat, repeatB: y.repeat, similarity: similarity, answerA: answerA, answerB: answerB))
        }
        sum.similarity += similarity
      }
      for x in recordsA where x.status == .ok { sum.charsA += Double((x.response ?? "").count); sum.countA += 1 }
      for y in recordsB where y.status == .ok { sum.charsB += Double((y.response ?? "").count); sum.countB += 1 }
      figures[key.variant] = figure
      sums[key.variant] = sum
    }
    let ratesA = decodeRates(a), ratesB = decodeRates(b)
    let variants: [VariantFigures] = variantsA.compactMap { name in
      guard var figure = figures[name], let sum = sums[name] else { return nil }
      figure.meanSimilarity = figure.pairs > 0 ? sum.similarity / Double(figure.pairs) : nil
      figure.meanCharactersA = sum.countA > 0 ? sum.charsA / Double(sum.countA) : nil
      figure.meanCharactersB = sum.countB > 0 ? sum.charsB / Double(sum.countB) : nil
      figure.decodeTokensPerSecondA = ratesA[name]
      figure.decodeTokensPerSecondB = ratesB[name]
      return figure
    }
    let keysA = Set(a.map(\.key)), keysB = Set(b.map(\.key))
    changes.sort { ($0.similarity, $0.id, $0.variant, $0.repeatA, $0.repeatB) < ($1.similarity, $1.id, $1.variant, $1.repeatA, $1.repeatB) }
    return RunComparison(
      variants: variants,
      variantsOnlyInA: variantsA.filter { !namesB.contains($0) },
      variantsOnlyInB: variantsB.filter { !namesA.contains($0) },
      keysOnlyInA: keysA.subtracting(keysB).count,
      keysOnlyInB: keysB.subtracting(keysA).count,
      commonPrompts: Set(a.map(\.id)).intersection(b.map(\.id)).count,
      matchedBy: everyRepeatMatched ? "key" : "id and variant",
      mostChanged: Array(changes.prefix(max(0, changeLimit))))
  }

  /// Similarity of two answers as bags of words: the words both share (counted as often as the
  /// rarer side has them) over the words either has. Cheap (linear), and blind to word order.
  public static func wordSimilarity(_ a: String, _ b: String) -> Double {
    let wordsA = words(a), wordsB = words(b)
    if wordsA.isEmpty && wordsB.isEmpty { return 1 }
    var shared = 0, total = 0
    for (word, countA) in wordsA {
      let countB = wordsB[word] ?? 0
      shared += min(countA, countB)
      total += max(countA, countB)
    }
    for (word, countB) in wordsB where wordsA[word] == nil { total += countB }
    return total > 0 ? Double(shared) / Double(total) : 1
  }

  private static func words(_ text: String) -> [Substring: Int] {
    var counts: [Substring: Int] = [:]
    for word in text.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation }) { counts[word, default: 0] += 1 }
    return counts
  }

  private struct PromptVariant: Hashable {
    var id: String
    var variant: String
  }

  /// Records by prompt and variant, in repeat order.
  private static func group(_ records: [ResultRecord]) -> [PromptVariant: [ResultRecord]] {
    var groups: [PromptVariant: [ResultRecord]] = [:]
    for record in records { groups[PromptVariant(id: record.id, variant: record.variant), default: []].append(record) }
    return groups.mapValues { $0.sorted { $0.repeat < $1.repeat } }
  }

  private static func orderedVariants(_ records: [ResultRecord]) -> [String] {
    var seen: Set<String> = []
    return records.map(\.variant).filter { seen.insert($0).inserted }
  }

  private static func decodeRates(_ records: [ResultRecord]) -> [String: Double] {
    var sums: [String: (tokens: Int, ns: Int)] = [:]
    for record in records where record.status == .ok {
      guard let tokens = record.timings.evalCount, let ns = record.timings.evalDuration, ns > 0 else { continue }
      let sum = sums[record.variant] ?? (0, 0)
      sums[record.variant] = (sum.tokens.addingSaturating(tokens), sum.ns.addingSaturating(ns))
    }
    return sums.compactMapValues { $0.ns > 0 ? Double($0.tokens) / Double($0.ns) * 1e9 : nil }
  }
}

private func ratioChange(_ new: Double?, _ old: Double?) -> Double? {
  guard let new, let old, old > 0 else { return nil }
  return new / old - 1
}
