import CaravanCore

/// The structured-outputs section of report.md and report.html: per variant, the share of
/// answers that parse as JSON and that satisfy the format, and for each `enum` property the
/// labels given, so a temperature sweep over a classifier shows how its labels move.
enum StructuredReport {
  static func markdown(_ tally: StructuredTally) -> [String] {
    guard !tally.isEmpty else { return [] }
    var out = ["", "## Structured outputs", ""]
    out.append("Answers parsed as JSON and checked against the format by Caravan (not by the engine). Error records count as neither.")
    out += ["", "| variant | records | parse as JSON | valid |", "|---|---:|---:|---:|"]
    for row in tally.rows where row.records > 0 {
      out.append("| \(ReportRenderer.markdownCell(row.variant)) | \(row.records) | \(row.parsed) (\(share(row.parsedShare))) | \(row.valid) (\(share(row.validShare))) |")
    }
    for property in properties(tally) {
      let columns = tally.rows.filter { $0.labels[property] != nil && $0.records > 0 }
      out += ["", "### Labels of `\(ReportRenderer.markdownCell(property))`", ""]
      out.append("| label | " + columns.map { ReportRenderer.markdownCell($0.variant) }.joined(separator: " | ") + " |")
      out.append("|---|" + columns.map { _ in "---:|" }.joined())
      for label in labels(property, in: columns) {
        out.append("| \(ReportRenderer.markdownCell(label)) | " + columns.map { cell(label, property, $0) }.joined(separator: " | ") + " |")
      }
    }
    return out
  }

  static func html(_ tally: StructuredTally, escape: (String) -> String) -> [String] {
    guard !tally.isEmpty else { return [] }
    var out = ["<section id=\"structured\">", "<h2>Structured outputs</h2>"]
    out.append("<p class=\"note\">Answers parsed as JSON and checked against the format by Caravan (not by the engine). Error records count as neither.</p>")
    out.append("<table class=\"structured\"><thead><tr><th class=\"text\">variant</th><th>records</th><th>parse as JSON</th><th>valid</th></tr></thead><tbody>")
    for row in tally.rows where row.records > 0 {
      out.append("<tr><td class=\"text\">\(escape(row.variant))</td><td>\(row.records)</td><td>\(row.parsed) (\(share(row.parsedShare)))</td><td>\(row.valid) (\(share(row.validShare)))</td></tr>")
    }
    out.append("</tbody></table>")
    for property in properties(tally) {
      let columns = tally.rows.filter { $0.labels[property] != nil && $0.records > 0 }
      out.append("<h3>Labels of <code>\(escape(property))</code></h3>")
      out.append("<table class=\"labels\"><thead><tr><th class=\"text\">label</th>" + columns.map { "<th>\(escape($0.variant))</th>" }.joined() + "</tr></thead><tbody>")
      for label in labels(property, in: columns) {
        out.append("<tr><td class=\"text\">\(escape(label))</td>" + columns.map { "<td>\(escape(cell(label, property, $0)))</td>" }.joined() + "</tr>")
      }
      out.append("</tbody></table>")
    }
    out.append("</section>")
    return out
  }

  /// Enum properties of any variant, in name order.
  static func properties(_ tally: StructuredTally) -> [String] {
    Array(Set(tally.rows.flatMap(\.labels.keys))).sorted()
  }

  /// Labels in the schema's order, then any other value an answer gave.
  static func labels(_ property: String, in rows: [StructuredTally.Row]) -> [String] {
    var seen: Set<String> = []
    return rows.flatMap { $0.labels[property] ?? [] }.map(\.label).filter { seen.insert($0).inserted }
  }

  /// "count (share)" of a label among the variant's answers that gave the property.
  static func cell(_ label: String, _ property: String, _ row: StructuredTally.Row) -> String {
    let counts = row.labels[property] ?? []
    let total = counts.reduce(0) { $0 + $1.count }
    let count = counts.first { $0.label == label }?.count ?? 0
    return total > 0 ? "\(count) (\(share(Double(count) / Double(total))))" : "\(count)"
  }

  static func share(_ value: Double?) -> String {
    guard let value else { return "" }
    return DiffReport.percent(value)
  }
}

/// The embeddings section of report.md and report.html (`task: embed`).
enum EmbeddingReport {
  static func facts(_ tally: EmbeddingTally) -> [(String, String)] {
    [
      ("vectors", String(tally.vectors)),
      ("dimensions", tally.dimensions.sorted().map(String.init).joined(separator: ", ")),
      ("L2 norm min / mean / max", [tally.normMin, tally.normMean, tally.normMax].map { ReportRenderer.number($0) }.joined(separator: " / ")),
      ("inputs per second", ReportRenderer.number(tally.inputsPerSecond)),
    ]
  }

  static func markdown(_ tally: EmbeddingTally) -> [String] {
    guard !tally.isEmpty else { return [] }
    var out = ["", "## Embeddings", "", "Vectors are in embeddings.npy (float32, one row per work item in plan order), rows named in embeddings.ids.jsonl.", ""]
    out += ["| | |", "|---|---:|"] + facts(tally).map { "| \($0.0) | \($0.1) |" }
    if tally.dimensions.count > 1 { out += ["", "The vectors have different dimensions: the servers did not all serve the same model."] }
    return out
  }

  static func html(_ tally: EmbeddingTally, escape: (String) -> String) -> [String] {
    guard !tally.isEmpty else { return [] }
    var out = ["<section id=\"embeddings\">", "<h2>Embeddings</h2>", "<table class=\"embeddings\"><tbody>"]
    out += facts(tally).map { "<tr><td class=\"text\">\(escape($0.0))</td><td>\(escape($0.1))</td></tr>" }
    out += ["</tbody></table>", "</section>"]
    return out
  }
}
