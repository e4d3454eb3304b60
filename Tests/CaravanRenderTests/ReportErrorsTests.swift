import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRender

/// What a user reads in the reports of a run that went partly wrong: the most frequent error
/// messages with their counts, empty cells where nothing was measured, and a chart of a short
/// run that still has time in it.
@Suite struct ReportErrorsTests {
  static let t0 = 1_772_359_200.0  // 2026-03-01T10:00:00Z

  /// Variant `fine` answers every prompt; variant `broken` fails every time, with two messages.
  static func statistics(seconds: Double = 4) -> RunStatistics {
    let variants = [
      Variant(name: "fine", model: "m", options: [:], baseModel: "m"),
      Variant(name: "broken", model: "m", options: ["temperature": .double(1)], baseModel: "m"),
    ]
    var statistics = RunStatistics(variants: variants)
    var seq = 0
    for variant in ["fine", "broken"] {
      for prompt in 1...4 {
        for repeatNumber in 1...2 {
          let item = WorkItem(seq: seq, id: "p\(prompt)", variant: variant, repeat: repeatNumber, model: "m", input: .prompt("q"), options: [:])
          let end = t0 + seconds * Double(seq + 1) / 16
          var record = ResultRecord(item: item, status: variant == "fine" ? .ok : .error, node: "n1", shard: 0, attempts: 1, wallMs: seconds * 1000 / 16, finishedAt: Self.timestamp(end))
          if variant == "fine" {
            record.response = "answer \(prompt) \(repeatNumber)"
          } else {
            record.error = prompt == 1 ? "model \"m\" not found | try <pulling> it" : "server busy, please try again.  maximum pending requests exceeded"
          }
          statistics.add(record)
          seq += 1
        }
      }
    }
    statistics.finish()
    return statistics
  }

  /// `2026-03-01T10:00:SS.mmmZ` for a time in the run's first minute.
  static func timestamp(_ time: Double) -> String {
    let ms = Int(((time - t0) * 1000).rounded())
    return String(format: "2026-03-01T10:00:%02d.%03dZ", ms / 1000, ms % 1000)
  }

  @Test func theMostFrequentErrorsAreListedWithTheirCounts() {
    let statistics = Self.statistics()
    #expect(statistics.frequentErrors().map(\.count) == [6, 2])
    let markdown = ReportRenderer.markdown(name: "r", runID: "1", total: 16, ok: 8, errors: 8, missing: 0, statistics: statistics)
    #expect(markdown.contains("""
      ## Most frequent errors

      All 8 error records, by message (2 messages). errors.jsonl has every error record.

      | records | message |
      |---:|---|
      | 6 | server busy, please try again.  maximum pending requests exceeded |
      | 2 | model "m" not found \\| try \\<pulling\\> it |
      """))
    let page = HTMLReport.render(name: "r", runID: "1", total: 16, ok: 8, errors: 8, missing: 0, statistics: statistics)
    #expect(page.contains("<tr class=\"error-row\"><td>6</td><td class=\"text message\">server busy, please try again.  maximum pending requests exceeded</td></tr>"))
    #expect(page.contains("<td>2</td><td class=\"text message\">model &quot;m&quot; not found | try &lt;pulling&gt; it</td>"))
  }

  @Test func aRunWithoutErrorsHasNoErrorsSection() {
    let statistics = ReportRendererTests.statistics()
    #expect(!ReportRenderer.markdown(name: "r", runID: "1", total: 16, ok: 16, errors: 0, missing: 0, statistics: statistics).contains("Most frequent errors"))
    #expect(!HTMLReport.render(name: "r", runID: "1", total: 16, ok: 16, errors: 0, missing: 0, statistics: statistics).contains("id=\"errors\""))
  }

  @Test func errorMessagesAreBoundedAndTheRestCounted() {
    var statistics = RunStatistics(variants: [Variant(name: "v", model: "m", options: [:], baseModel: "m")])
    let limit = RunStatistics.errorMessageLimit
    for seq in 0..<(limit + 5) {
      let item = WorkItem(seq: seq, id: "p\(seq)", variant: "v", repeat: 1, model: "m", input: .prompt("q"), options: [:])
      var record = ResultRecord(item: item, status: .error, node: "n1", shard: 0, attempts: 1, wallMs: 1, finishedAt: "2026-03-01T10:00:00Z")
      record.error = "failure number \(seq)"
      statistics.add(record)
    }
    #expect(statistics.errorMessages.count == limit && statistics.otherErrorMessages == 5)
    #expect(ReportRenderer.errorsNote(statistics).contains("and 5 more with further messages"))
  }

  @Test func aVariantWithoutAnswersHasEmptyCellsNotZeros() throws {
    let statistics = Self.statistics()
    let csv = ReportRenderer.sweepCSV(statistics).split(separator: "\n")
    #expect(csv[2] == "broken,temperature=1.0,0,8,0,,,,,,", "\(csv[2])")
    let markdown = ReportRenderer.markdown(name: "r", runID: "1", total: 16, ok: 8, errors: 8, missing: 0, statistics: statistics)
    let row = try #require(markdown.split(separator: "\n").first { $0.hasPrefix("| broken |") })
    #expect(row == "| broken | temperature=1.0 | 0 |  |  |  |  |  |  |")
    let page = HTMLReport.render(name: "r", runID: "1", total: 16, ok: 8, errors: 8, missing: 0, statistics: statistics)
    #expect(page.contains("<td class=\"text options\">temperature=1.0</td><td>0</td><td></td><td></td><td></td><td></td><td></td><td></td></tr>"))
  }

  @Test func aShortRunIsDrawnInManySlicesOnItsOwnTimeScale() {
    // The whole run takes 0.2 s.
    let statistics = Self.statistics(seconds: 0.2)
    let buckets = statistics.concurrency.buckets("n1")
    #expect(buckets.count >= 100, "\(buckets.count) slices")
    #expect(buckets.allSatisfy { $0.width <= 0.002 })
    let page = HTMLReport.render(name: "r", runID: "1", total: 16, ok: 8, errors: 8, missing: 0, statistics: statistics)
    guard let domain = HTMLReport.timeDomain(statistics) else { Issue.record("no time domain"); return }
    #expect(domain.upperBound - domain.lowerBound < 0.25)
    #expect(page.contains(">+200 ms</text>") || page.contains(">+210 ms</text>") || page.contains(">+202 ms</text>"), "the axis is in milliseconds")
  }
}
