import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRender

/// The reports' answers section: repeats side by side, identical ones together, every text from
/// the run escaped, and a bounded sample however many prompts ran.
@Suite struct AnswersReportTests {
  static func record(_ prompt: String, _ variant: String, _ repeatNumber: Int, _ text: String, error: Bool = false) -> ResultRecord {
    let item = WorkItem(seq: 0, id: prompt, variant: variant, repeat: repeatNumber, model: "m", input: .prompt("q"), options: [:])
    var record = ResultRecord(item: item, status: error ? .error : .ok, node: "n1", shard: 0, attempts: 1, wallMs: 10, finishedAt: "2026-01-01T00:00:00Z")
    if error { record.error = text } else { record.response = text }
    return record
  }

  static let hostile = "</td><script>alert(\"x\" & 'y')</script> a | b \\| c\nsecond *line* `code` [link](http://example.com)\r\nthird"

  /// The tutorial's birthday prompt under its four variants, plus a prompt whose answers attack
  /// both formats, one that failed, and an empty and a long answer.
  static func sample() -> AnswerSample {
    var sample = AnswerSample()
    let birthday = "Happy birthday, my friend!\nWishing you joy and many more years."
    for r in 1...3 { sample.add(record("birthday", "low-temp", r, birthday)) }
    for (r, text) in ["Happy birthday! Have a wonderful day.", "Cheers to you on your birthday, friend!", "Many happy returns of the day!"].enumerated() {
      sample.add(record("birthday", "high-temp", r + 1, text))
    }
    for (r, text) in [birthday, "Happy birthday, my friend!\nWishing you a bright year.", birthday].enumerated() {
      sample.add(record("birthday", "top-k-3", r + 1, text))
    }
    sample.add(record("birthday", "top-k-200", 1, birthday))
    sample.add(record("birthday", "top-k-200", 2, "model is loading, try again", error: true))
    sample.add(record("birthday", "top-k-200", 3, ""))
    sample.add(record("<b>id|x</b>", "high-temp", 1, hostile))
    sample.add(record("<b>id|x</b>", "high-temp", 2, String(repeating: "long answer ", count: 40)))
    return sample
  }

  static func golden(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/" + name)
  }

  @Test func answersSectionsMatchGoldens() throws {
    let sample = Self.sample()
    let markdown = ReportRenderer.answersMarkdown(sample).joined(separator: "\n") + "\n"
    let mismatch = try goldenMismatch(markdown, golden: Self.golden("answers.md.golden"))
    #expect(mismatch == nil, "\(mismatch ?? "")")
    let html = HTMLReport.answersSection(sample).joined(separator: "\n") + "\n"
    let htmlMismatch = try goldenMismatch(html, golden: Self.golden("answers.html.golden"))
    #expect(htmlMismatch == nil, "\(htmlMismatch ?? "")")
  }

  @Test func threeIdenticalRepeatsShowOneTextMarkedIdentical() {
    let sample = Self.sample()
    let markdown = ReportRenderer.answersMarkdown(sample)
    let row = markdown.first { $0.hasPrefix("| birthday | low-temp |") }
    #expect(row?.contains("| 3 of 3 identical | **repeats 1, 2, 3:** Happy birthday, my friend!<br>Wishing you joy and many more years. |") == true, "\(row ?? "")")
    let page = HTMLReport.answersSection(sample)
    let htmlRow = page.first { $0.contains("data-variant=\"low-temp\"") } ?? ""
    #expect(htmlRow.hasPrefix("<tr class=\"answer-row identical\""))
    #expect(htmlRow.components(separatedBy: "Wishing you joy").count == 2, "the text once: \(htmlRow)")
    #expect(htmlRow.contains(">3 of 3 identical</td>"))
    let different = page.first { $0.contains("data-variant=\"high-temp\"") } ?? ""
    #expect(different.hasPrefix("<tr class=\"answer-row different\"") && different.contains(">3 of 3 different</td>"))
  }

  @Test func hostileTextIsEscapedInBothFormats() {
    let sample = Self.sample()
    let page = HTMLReport.answersSection(sample).joined(separator: "\n")
    #expect(!page.contains("<script") && !page.contains("</td><script") && !page.contains("<b>") && !page.contains("\r"))
    #expect(page.contains("&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"))
    #expect(page.contains("<td class=\"text\">&lt;b&gt;id|x&lt;/b&gt;</td>"))

    let markdown = ReportRenderer.answersMarkdown(sample)
    let table = markdown.filter { $0.hasPrefix("|") }
    // One line per row: the answers' line breaks became <br>, the \r\n and the lone \n alike.
    #expect(table.count == 2 + 5)
    #expect(!markdown.contains { $0.contains("\r") })
    let row = table.first { $0.contains("alert") } ?? ""
    #expect(row.contains("\\</td\\>\\<script\\>alert(\"x\" \\& 'y')\\</script\\> a \\| b \\\\\\| c<br>second \\*line\\* \\`code\\` \\[link\\](http://example.com)<br>third"), "\(row)")
    #expect(row.hasPrefix("| \\<b\\>id\\|x\\</b\\> | high-temp |"))
    // Every row has as many cells as the header: no `|` from the text ends a cell.
    let header = table[0]
    for line in table { #expect(cellCount(line) == cellCount(header), "\(line)") }
  }

  /// Cells of a GFM table row: `|` not escaped by a backslash (a `\\` escapes itself).
  func cellCount(_ line: String) -> Int {
    var count = 0, escaped = false
    for character in line {
      if escaped {
        escaped = false
      } else if character == "\\" {
        escaped = true
      } else if character == "|" {
        count += 1
      }
    }
    return count - 1
  }

  @Test func manyPromptsShowTheFirstTwentyAndSaySo() {
    var statistics = RunStatistics(variants: ["cold", "hot"].map { Variant(name: $0, model: "m", options: [:], baseModel: "m") })
    for prompt in 1...1_000 {
      for variant in ["cold", "hot"] {
        for r in 1...7 { statistics.add(Self.record("p\(prompt)", variant, r, variant == "cold" ? "same" : "answer \(r)")) }
      }
    }
    statistics.finish()
    let markdown = ReportRenderer.markdown(name: "big", runID: "r1", total: 14_000, ok: 14_000, errors: 0, missing: 0, statistics: statistics)
    #expect(markdown.contains("The answers of the first 20 of 1,000 prompts (in plan order) under each variant, up to 5 repeats each"))
    #expect(markdown.split(separator: "\n").filter { $0.hasPrefix("| p") && !$0.hasPrefix("| prompt") }.count == 40)
    #expect(markdown.contains("| p1 | cold | 5 of 5 identical, first 5 of 7 repeats shown | **repeats 1, 2, 3, 4, 5:** same |"))
    #expect(markdown.contains("| p20 | hot | 5 of 5 different, first 5 of 7 repeats shown |") && !markdown.contains("| p21 |"))
    let page = HTMLReport.render(name: "big", runID: "r1", total: 14_000, ok: 14_000, errors: 0, missing: 0, statistics: statistics)
    #expect(page.components(separatedBy: "<tr class=\"answer-row").count - 1 == 40)
    #expect(page.contains("the first 20 of 1,000 prompts"))
  }

  @Test func countsAreGroupedByThousands() {
    #expect([0, 7, 999, 1_000, 20_000, 1_234_567].map { grouped($0) } == ["0", "7", "999", "1,000", "20,000", "1,234,567"])
  }
}
