import CaravanCore
import Testing

/// The answers the reports put side by side: bounded however large the run, and honest about
/// which repeats are identical.
@Suite struct AnswerSampleTests {
  func record(_ prompt: String, _ variant: String, _ repeatNumber: Int, _ text: String, error: Bool = false) -> ResultRecord {
    let item = WorkItem(seq: 0, id: prompt, variant: variant, repeat: repeatNumber, model: "m", input: .prompt("q"), options: [:])
    var record = ResultRecord(item: item, status: error ? .error : .ok, node: "n1", shard: 0, attempts: 1, wallMs: 10, finishedAt: "2026-01-01T00:00:00Z")
    if error { record.error = text } else { record.response = text }
    return record
  }

  @Test func identicalRepeatsShareOneGroup() {
    var sample = AnswerSample()
    for r in 1...3 { sample.add(record("birthday", "low-temp", r, "Happy birthday, dear friend!")) }
    for (r, text) in ["one", "two", "one"].enumerated() { sample.add(record("birthday", "high-temp", r + 1, text)) }
    #expect(sample.rows.map(\.variant) == ["low-temp", "high-temp"])
    let low = sample.rows[0].groups
    #expect(low.count == 1 && low[0].repeats == [1, 2, 3] && low[0].answer.excerpt == "Happy birthday, dear friend!")
    #expect(sample.rows[1].groups.map(\.repeats) == [[1, 3], [2]])
  }

  /// Two answers that start alike but end differently are not identical, though the report
  /// shows the same cut text for both.
  @Test func identicalMeansTheWholeTextNotTheExcerpt() {
    var sample = AnswerSample()
    let start = String(repeating: "word ", count: 100)
    sample.add(record("p", "v", 1, start + "ending one"))
    sample.add(record("p", "v", 2, start + "ending two"))
    sample.add(record("p", "v", 3, "ending two", error: true))
    let groups = sample.rows[0].groups
    #expect(groups.count == 3)
    #expect(groups[0].answer.excerpt == groups[1].answer.excerpt && groups[0].answer.isCut)
    #expect(groups[2].answer.isError && groups[2].answer.excerpt == "ending two")
  }

  @Test func excerptsKeepAFewLinesAndMarkTheCut() {
    #expect(AnswerSample.excerpt("  \n short answer \n\n", characters: 300, lines: 4) == ("short answer", false))
    #expect(AnswerSample.excerpt("a\nb\nc\nd", characters: 300, lines: 4) == ("a\nb\nc\nd", false))
    #expect(AnswerSample.excerpt("a\nb\nc\nd\ne", characters: 300, lines: 4) == ("a\nb\nc\nd…", true))
    #expect(AnswerSample.excerpt("a\r\nb\r\nc", characters: 300, lines: 2) == ("a\r\nb…", true))
    #expect(AnswerSample.excerpt(String(repeating: "x", count: 301), characters: 300, lines: 4) == (String(repeating: "x", count: 300) + "…", true))
    #expect(AnswerSample.excerpt(String(repeating: "x", count: 300) + "  \n", characters: 300, lines: 4).isCut == false)
    #expect(AnswerSample.excerpt("", characters: 300, lines: 4) == ("", false))
  }

  /// However many records a collect streams, it keeps 20 prompts × variants × 5 repeats of at
  /// most 300 characters each, and still counts every prompt.
  @Test func theSampleStaysBoundedWithManyPrompts() {
    var sample = AnswerSample()
    let long = String(repeating: "x", count: 1_000)
    for prompt in 1...1_000 {
      for variant in ["a", "b"] {
        for r in 1...8 { sample.add(record("p\(prompt)", variant, r, long + "\(r % 2)")) }
      }
    }
    #expect(sample.promptCount == 1_000)
    #expect(sample.keptPrompts == (1...20).map { "p\($0)" })
    #expect(sample.rows.count == 40)
    #expect(sample.rows.allSatisfy { $0.recorded == 8 && $0.answers.count == 5 })
    #expect(sample.rows.allSatisfy { row in row.answers.allSatisfy { $0.excerpt.count == 301 && $0.isCut } })
    #expect(sample.rows[0].groups.map(\.repeats) == [[1, 3, 5], [2, 4]])
  }

  @Test func runStatisticsKeepsTheSampleOfTheRecordsFedToIt() {
    var statistics = RunStatistics(variants: [Variant(name: "v", model: "m", options: [:], baseModel: "m")], answers: AnswerSample(repeatLimit: 1))
    statistics.add(record("p", "v", 1, "same"))
    statistics.add(record("p", "v", 2, "same"))
    statistics.finish()
    #expect(statistics.answers.rows.map(\.recorded) == [2] && statistics.answers.rows[0].answers.map(\.excerpt) == ["same"])
  }

  /// A key recorded twice counts once, with its later text, as collect keeps the later record.
  @Test func aRepeatedKeyKeepsItsLaterRecord() {
    var sample = AnswerSample(promptLimit: 1)
    sample.add(record("p", "v", 1, "first try"))
    sample.add(record("p", "v", 1, "second try"))
    sample.add(record("q", "v", 1, "not kept"))
    #expect(sample.rows.count == 1 && sample.rows[0].recorded == 1 && sample.rows[0].answers.map(\.excerpt) == ["second try"])
    #expect(sample.promptCount == 2)
  }
}
