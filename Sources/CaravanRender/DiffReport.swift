import CaravanCore

/// `diff.md` and `diff.csv`, rendered from a `RunComparison`.
public enum DiffReport {
  /// Names the two runs in the report.
  public struct Runs: Sendable {
    public var a: String
    public var b: String
    public init(a: String, b: String) {
      self.a = a
      self.b = b
    }
  }

  /// One row per variant both runs have.
  public static func csv(_ comparison: RunComparison) -> String {
    var lines = [
      "variant,pairs,identical,identical_share,mean_similarity,mean_chars_a,mean_chars_b,length_change,decode_tokens_per_s_a,decode_tokens_per_s_b,decode_change,error_pairs,label_agreement"
    ]
    for v in comparison.variants {
      let cells = [
        ReportRenderer.csv(v.variant), String(v.pairs), String(v.identical), ReportRenderer.number(v.identicalShare),
        ReportRenderer.number(v.meanSimilarity), ReportRenderer.number(v.meanCharactersA), ReportRenderer.number(v.meanCharactersB),
        ReportRenderer.number(v.lengthChange), ReportRenderer.number(v.decodeTokensPerSecondA), ReportRenderer.number(v.decodeTokensPerSecondB),
        ReportRenderer.number(v.decodeChange), String(v.errorPairs), ReportRenderer.number(v.labelAgreement),
      ]
      lines.append(cells.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public static func markdown(_ comparison: RunComparison, runs: Runs) -> String {
    var out = "# caravan diff\n\n"
    out += "- A: `\(ReportRenderer.markdownCell(runs.a))`\n- B: `\(ReportRenderer.markdownCell(runs.b))`\n"
    out += "- Matched by \(comparison.matchedBy), on \(comparison.commonPrompts) prompts both runs have.\n"
    out += "- Keys only in A: \(comparison.keysOnlyInA); only in B: \(comparison.keysOnlyInB).\n"
    if !comparison.variantsOnlyInA.isEmpty { out += "- Variants only in A: \(comparison.variantsOnlyInA.map(ReportRenderer.markdownCell).joined(separator: ", ")).\n" }
    if !comparison.variantsOnlyInB.isEmpty { out += "- Variants only in B: \(comparison.variantsOnlyInB.map(ReportRenderer.markdownCell).joined(separator: ", ")).\n" }
    out += "\n## Per variant\n\n"
    out += "Similarity is the word-bag similarity of two answers (1: the same words as often). Changes are B over A.\n\n"
    let structured = comparison.variants.contains { $0.parsedPairs > 0 }
    out += "| variant | pairs | identical | mean similarity | mean chars A → B | length change | decode tok/s A → B | decode change | error pairs |"
    out += structured ? " label agreement |\n" : "\n"
    out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + (structured ? "---:|\n" : "\n")
    for v in comparison.variants {
      let identical = v.identicalShare.map { "\(v.identical) (\(percent($0)))" } ?? "\(v.identical)"
      let chars = "\(ReportRenderer.number(v.meanCharactersA)) → \(ReportRenderer.number(v.meanCharactersB))"
      let rates = "\(ReportRenderer.number(v.decodeTokensPerSecondA)) → \(ReportRenderer.number(v.decodeTokensPerSecondB))"
      let cells = [
        ReportRenderer.markdownCell(v.variant), String(v.pairs), identical, ReportRenderer.number(v.meanSimilarity), chars,
        v.lengthChange.map(signedPercent) ?? "", rates, v.decodeChange.map(signedPercent) ?? "", String(v.errorPairs),
      ] + (structured ? [v.labelAgreement.map(percent) ?? ""] : [])
      out += "| " + cells.joined(separator: " | ") + " |\n"
    }
    out += "\n## Answers that changed most\n\n"
    if comparison.mostChanged.isEmpty {
      out += "Every compared answer is identical.\n"
    } else {
      out += "| prompt | variant | repeat A/B | similarity | answer A | answer B |\n|---|---|---|---:|---|---|\n"
      for change in comparison.mostChanged {
        let cells = [
          ReportRenderer.markdownCell(change.id), ReportRenderer.markdownCell(change.variant), "\(change.repeatA)/\(change.repeatB)",
          ReportRenderer.number(change.similarity), ReportRenderer.markdownCell(excerpt(change.answerA)), ReportRenderer.markdownCell(excerpt(change.answerB)),
        ]
        out += "| " + cells.joined(separator: " | ") + " |\n"
      }
    }
    return out
  }

  static func percent(_ share: Double) -> String {
    let value = (share * 1000).rounded() / 10
    return value == value.rounded() ? "\(Int(value))%" : "\(value)%"
  }

  static func signedPercent(_ change: Double) -> String {
    (change >= 0 ? "+" : "") + percent(change)
  }

  static func excerpt(_ text: String, limit: Int = 120) -> String {
    text.count <= limit ? text : String(text.prefix(limit)) + "…"
  }
}
