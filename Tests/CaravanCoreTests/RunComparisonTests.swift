@testable import CaravanCore
import Testing

/// `RunComparison`, the figures behind `caravan diff`.
@Suite("Run comparison")
struct RunComparisonTests {
  func record(_ id: String, _ variant: String, _ r: Int, _ answer: String?, ok: Bool = true, tokens: Int = 10, ns: Int = 1_000_000_000) -> ResultRecord {
    let item = WorkItem(seq: 0, id: id, variant: variant, repeat: r, model: "m", input: .prompt("p"), options: [:])
    var record = ResultRecord(item: item, status: ok ? .ok : .error, node: "n", shard: 0, attempts: 1, wallMs: 1, finishedAt: "t")
    record.response = answer
    record.timings.evalCount = tokens
    record.timings.evalDuration = ns
    return record
  }

  @Test("matched by key: identical share, similarity, length and decode changes, keys alone, errors apart")
  func byKey() {
    let a = [record("x", "v", 1, "the cat sat"), record("y", "v", 1, "a b c d"), record("z", "v", 1, "gone"), record("e", "v", 1, nil, ok: false)]
    let b = [record("x", "v", 1, "the cat sat"), record("y", "v", 1, "a b c d e f g h", tokens: 20), record("w", "v", 1, "new"), record("e", "v", 1, "fine")]
    let c = RunComparison.compare(a, b)
    #expect(c.matchedBy == "key")
    #expect(c.keysOnlyInA == 1 && c.keysOnlyInB == 1 && c.commonPrompts == 3)
    let v = c.variants[0]
    #expect(v.pairs == 2 && v.identical == 1 && v.identicalShare == 0.5 && v.errorPairs == 1)
    #expect(v.meanSimilarity == (1 + 0.5) / 2)
    #expect(c.mostChanged.map(\.id) == ["y"])
    #expect(v.decodeChange != nil && abs(v.decodeChange! - (12.5 / 10 - 1)) < 1e-9, "\(String(describing: v.decodeChange))")
  }

  @Test("different repeats: every answer of one run against every answer of the other")
  func byIDAndVariant() {
    let a = [record("x", "v", 1, "yes")]
    let b = [record("x", "v", 1, "yes"), record("x", "v", 2, "no"), record("x", "v", 3, "yes")]
    let c = RunComparison.compare(a, b)
    #expect(c.matchedBy == "id and variant")
    #expect(c.variants[0].pairs == 3 && c.variants[0].identical == 2)
  }

  @Test("word-bag similarity counts repeated words and ignores punctuation")
  func similarity() {
    #expect(RunComparison.wordSimilarity("a a b", "a b b") == 2.0 / 4.0)
    #expect(RunComparison.wordSimilarity("Yes.", "Yes") == 1)
    #expect(RunComparison.wordSimilarity("", "") == 1)
    #expect(RunComparison.wordSimilarity("x", "") == 0)
  }

  @Test("structured runs: label agreement counts pairs whose parsed answers are equal, 1 and 1.0 alike")
  func labelAgreement() {
    func labelled(_ id: String, _ json: String, _ parsed: JSONValue) -> ResultRecord {
      var r = record(id, "v", 1, json)
      r.parsed = parsed
      r.schemaValid = true
      return r
    }
    let a = [labelled("x", #"{"label":"yes"}"#, .object(["label": .string("yes")])), labelled("y", #"{"n":1}"#, .object(["n": .int(1)])), record("z", "v", 1, "free")]
    let b = [labelled("x", #"{"label": "yes"}"#, .object(["label": .string("yes")])), labelled("y", #"{"n":1.0}"#, .object(["n": .double(1)])), record("z", "v", 1, "free")]
    let v = RunComparison.compare(a, b).variants[0]
    #expect(v.parsedPairs == 2 && v.parsedAgreeing == 2 && v.labelAgreement == 1)
    #expect(v.identical == 1, "the texts differ in white space, the labels do not")
  }
}
