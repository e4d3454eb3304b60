import CaravanCore
import Foundation

/// The collect reports as text: `timing.csv`, `sweep.csv` and `report.md` (`HTMLReport` writes `report.html`).
public enum ReportRenderer {
  /// One column of the timing table, shared by the CSV and the Markdown so they cannot disagree.
  struct TimingColumn: Sendable {
    var csv: String
    var title: String
    var value: @Sendable (RunStatistics.NodeTiming) -> String
  }

  /// Request columns of a GPU row that no record named are empty rather than zero: the records
  /// may simply not say which GPU served them.
  static func requests(_ row: RunStatistics.NodeTiming, _ value: String) -> String { row.gpu == nil || row.requests > 0 ? value : "" }

  static let timingColumns: [TimingColumn] = [
    TimingColumn(csv: "node", title: "node") { csv($0.node) },
    TimingColumn(csv: "gpu", title: "gpu") { csv($0.gpu ?? "") },
    TimingColumn(csv: "requests", title: "requests") { requests($0, "\($0.requests)") },
    TimingColumn(csv: "errors", title: "errors") { requests($0, "\($0.errors)") },
    TimingColumn(csv: "prompt_tokens", title: "prompt tokens") { requests($0, "\($0.promptTokens)") },
    TimingColumn(csv: "generated_tokens", title: "generated tokens") { requests($0, "\($0.generatedTokens)") },
    TimingColumn(csv: "prefill_tokens_per_s", title: "prefill tok/s") { number($0.prefillTokensPerSecond) },
    TimingColumn(csv: "decode_tokens_per_s", title: "decode tok/s") { number($0.decodeTokensPerSecond) },
    TimingColumn(csv: "load_s", title: "load s") { requests($0, number(Double($0.loadNanoseconds) / 1e9)) },
    TimingColumn(csv: "request_s", title: "request s") { requests($0, number($0.requestMilliseconds / 1000)) },
    TimingColumn(csv: "busy_s", title: "busy s") { number($0.busySeconds) },
    TimingColumn(csv: "wall_s", title: "wall s") { number($0.wallSeconds) },
    TimingColumn(csv: "server_starts", title: "server starts") { $0.servers.count > 0 ? "\($0.servers.count)" : "" },
    TimingColumn(csv: "server_start_s_mean", title: "start s (mean)") { number($0.servers.readyMeanMs.map { $0 / 1000 }) },
    TimingColumn(csv: "server_start_s_max", title: "start s (max)") { number($0.servers.readyMaxMs.map { $0 / 1000 }) },
    TimingColumn(csv: "model_load_s_max", title: "model load s (max)") { number($0.servers.modelLoadMaxMs.map { $0 / 1000 }) },
    TimingColumn(csv: "gpu_util_mean", title: "GPU util % (mean)") { number($0.telemetry?.utilizationMean) },
    TimingColumn(csv: "gpu_util_max", title: "GPU util % (max)") { number($0.telemetry?.utilizationMax) },
    TimingColumn(csv: "gpu_mem_max_mib", title: "GPU memory MiB (max)") { number($0.telemetry?.memoryMaxMiB) },
    TimingColumn(csv: "gpu_power_mean_w", title: "GPU power W (mean)") { number($0.telemetry?.powerMean) },
    TimingColumn(csv: "energy_j", title: "energy J") { number($0.telemetry?.energyJoules) },
    TimingColumn(csv: "tokens_per_j", title: "tokens/J") { number($0.tokensPerJoule) },
  ]

  /// `timing.csv`: a row per node (`gpu` empty), then a row per GPU of each node that has any.
  /// Sum only one kind of row: a node's GPU rows add up to its node row.
  public static func timingCSV(_ statistics: RunStatistics) -> String {
    var lines = [timingColumns.map(\.csv).joined(separator: ",")]
    for row in statistics.nodeRows + statistics.gpuRows {
      lines.append(timingColumns.map { $0.value(row) }.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public static func sweepCSV(_ statistics: RunStatistics) -> String {
    var lines = ["variant,options,responses,errors,prompts,distinct_answers_per_prompt,mean_length_words,stdev_length_words,distinct_1,distinct_2,mean_pairwise_similarity"]
    for row in statistics.sweep {
      lines.append([
        csv(row.variant), csv(row.options), "\(row.responses)", "\(row.errors)", "\(row.prompts)",
        number(row.distinctAnswersPerPrompt), number(row.meanLength), number(row.lengthStdev),
        number(row.distinct1), number(row.distinct2), number(row.meanPairwiseSimilarity),
      ].joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `report.md`: completeness, per-node (and per-GPU) timing, the sweep table, and a sample of
  /// the answers side by side.
  /// `engine.parallel: auto`: a line per task with the count it chose and the throughput of each
  /// count tried (tokens/s, or answers/s where no tokens were counted).
  static func parallelChoiceLines(_ statistics: RunStatistics) -> [String] {
    let choices = statistics.parallelChoices.values.sorted { $0.task < $1.task }
    guard !choices.isEmpty else { return [] }
    var lines = ["", "engine.parallel auto chose, per server:", ""]
    for choice in choices.prefix(50) {
      let tried = choice.trials.map { "\($0.parallel): \(String(format: "%.1f", $0.rate))/s" }.joined(separator: ", ")
      lines.append("- task \(choice.task) on \(markdownCell(choice.node)): \(choice.chosen)" + (tried.isEmpty ? "" : " (tried \(tried))"))
    }
    if choices.count > 50 { lines.append("- ... and \(choices.count - 50) more tasks") }
    return lines
  }

  public static func markdown(name: String, runID: String, total: Int, ok: Int, errors: Int, missing: Int, statistics: RunStatistics) -> String {
    var out = ["# \(markdownCell(name)): run \(markdownCell(runID))", ""]
    out.append("\(ok + errors) of \(total) work items recorded: \(ok) ok, \(errors) errors, \(missing) missing.")
    out += parallelChoiceLines(statistics)
    let frequent = statistics.frequentErrors(errorLimit)
    if !frequent.isEmpty {
      out += ["", "## Most frequent errors", "", errorsNote(statistics), ""]
      out.append("| records | message |")
      out.append("|---:|---|")
      for (message, count) in frequent { out.append("| \(grouped(count)) | \(markdownText(message)) |") }
    }
    out += ["", "## Per node", ""]
    out.append("Busy s is the time with at least one request in flight; energy is the GPUs' power integrated over time (gaps in the telemetry left out), and tokens/J divides the generated tokens by it.")
    out.append("")
    let nodeColumns = timingColumns.filter { $0.csv != "gpu" }
    out += markdownTable(nodeColumns, statistics.nodeRows)
    let gpuRows = statistics.gpuRows
    if !gpuRows.isEmpty {
      out += ["", "## Per GPU", ""]
      out.append("One row per GPU, by nvidia-smi index; a server given several GPUs has a row named by its CUDA_VISIBLE_DEVICES.")
      out.append("")
      out += markdownTable(timingColumns, gpuRows)
    }
    let gaps = statistics.telemetryGaps.keys.sorted()
    if !gaps.isEmpty {
      out += ["", "No GPU telemetry for \(gaps.count) shard\(gaps.count == 1 ? "" : "s"):", ""]
      for shard in gaps.prefix(20) { out.append("- \(markdownCell(statistics.telemetryGaps[shard]!))") }
      if gaps.count > 20 { out.append("- ... and \(gaps.count - 20) more") }
    }
    out += ["", "## Sweep", ""]
    out.append("How each variant's sampling settings change the answers: distinct answers among repeats of the same prompt, answer length in words, distinct-1/2 (unique words and word pairs over all), and the mean word-set similarity of two repeats (1 = identical).")
    out.append("")
    out.append("| variant | options | answers | distinct per prompt | mean length | stdev | distinct-1 | distinct-2 | repeat similarity |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in statistics.sweep {
      out.append("| \(markdownCell(row.variant)) | \(row.options.isEmpty ? "(defaults)" : markdownCell(row.options)) | \(row.responses) | \(number(row.distinctAnswersPerPrompt)) | \(number(row.meanLength)) | \(number(row.lengthStdev)) | \(number(row.distinct1)) | \(number(row.distinct2)) | \(number(row.meanPairwiseSimilarity)) |")
    }
    out += StructuredReport.markdown(statistics.structured)
    out += EmbeddingReport.markdown(statistics.embeddings)
    out += answersMarkdown(statistics.answers)
    return out.joined(separator: "\n") + "\n"
  }

  /// Error messages the reports list.
  static let errorLimit = 10

  /// What the errors table holds: how many error records and messages, and what it leaves out.
  static func errorsNote(_ statistics: RunStatistics) -> String {
    let records = statistics.errorMessages.values.reduce(0, +) + statistics.otherErrorMessages
    let distinct = statistics.errorMessages.count
    let shown = min(distinct, errorLimit)
    var note = distinct <= errorLimit
      ? "\(records == 1 ? "The error record" : "All \(grouped(records)) error records"), by message (\(distinct == 1 ? "one message" : "\(distinct) messages"))"
      : "The \(shown) most frequent of \(grouped(distinct)) messages over \(grouped(records)) error records"
    if statistics.otherErrorMessages > 0 {
      note += ", and \(grouped(statistics.otherErrorMessages)) more with further messages (past the first \(grouped(RunStatistics.errorMessageLimit)) distinct ones)"
    }
    return note + ". errors.jsonl has every error record."
  }

  /// The answers section: a row per prompt and variant, its distinct answers side by side.
  static func answersMarkdown(_ sample: AnswerSample) -> [String] {
    var out = ["", "## Answers", ""]
    guard !sample.rows.isEmpty else { return out + ["No answers were recorded."] }
    out += [answersNote(sample), ""]
    let width = sample.rows.map { $0.groups.count }.max() ?? 1
    out.append("| prompt | variant | repeats | " + (1...width).map { "answer \($0)" }.joined(separator: " | ") + " |")
    out.append("|---|---|---|" + String(repeating: "---|", count: width))
    for row in sample.rows {
      let groups = row.groups
      var cells = [markdownText(row.prompt), markdownText(row.variant), repeatsLabel(row)]
      cells += groups.map { group in
        let text = group.answer.excerpt.isEmpty ? "*(empty)*" : markdownText(group.answer.excerpt, newline: "<br>")
        return "**\(whoLabel(group)):** " + text
      }
      cells += Array(repeating: "", count: width - groups.count)
      out.append("| " + cells.joined(separator: " | ") + " |")
    }
    return out
  }

  /// What the answers section holds, and what it leaves out.
  static func answersNote(_ sample: AnswerSample) -> String {
    let prompts: String
    if sample.promptCount > sample.keptPrompts.count {
      prompts = "the first \(grouped(sample.keptPrompts.count)) of \(grouped(sample.promptCount)) prompts (in plan order)"
    } else {
      prompts = sample.promptCount == 1 ? "the one prompt" : sample.promptCount == 2 ? "both prompts" : "all \(grouped(sample.promptCount)) prompts"
    }
    return "The answers of \(prompts) under each variant, up to \(sample.repeatLimit) repeats each, cut to \(sample.characterLimit) characters or \(sample.lineLimit) lines (… marks a cut). Identical repeats share one cell: identical means the whole answer, not only the part shown."
  }

  /// How a prompt's repeats under a variant compare: `3 of 3 identical`, `3 of 3 different`,
  /// `2 distinct of 3`, then errors and repeats left out of the sample.
  static func repeatsLabel(_ row: AnswerSample.Row) -> String {
    let answered = row.answers.filter { !$0.isError }.count
    let distinct = row.groups.filter { !$0.answer.isError }.count
    var parts: [String] = []
    if answered == 1 {
      parts.append("1 answer")
    } else if answered > 1 {
      parts.append(distinct == 1 ? "\(answered) of \(answered) identical" : distinct == answered ? "\(answered) of \(answered) different" : "\(distinct) distinct of \(answered)")
    }
    let errors = row.answers.count - answered
    if errors > 0 { parts.append(errors == 1 ? "1 error" : "\(errors) errors") }
    if row.recorded > row.answers.count { parts.append("first \(row.answers.count) of \(row.recorded) repeats shown") }
    return parts.joined(separator: ", ")
  }

  /// Which repeats gave one text: `repeat 2`, `repeats 1, 2, 3`, `repeat 4, error`.
  static func whoLabel(_ group: AnswerSample.Group) -> String {
    let numbers = group.repeats.map(String.init).joined(separator: ", ")
    return (group.repeats.count == 1 ? "repeat " : "repeats ") + numbers + (group.answer.isError ? ", error" : "")
  }

  static func markdownTable(_ columns: [TimingColumn], _ rows: [RunStatistics.NodeTiming]) -> [String] {
    var out = ["| " + columns.map(\.title).joined(separator: " | ") + " |"]
    out.append("|" + columns.map { ["node", "gpu"].contains($0.csv) ? "---|" : "---:|" }.joined())
    for row in rows {
      out.append("| " + columns.map { column in
        ["node", "gpu"].contains(column.csv) ? markdownCell(column.csv == "node" ? row.node : row.gpu ?? "") : column.value(row)
      }.joined(separator: " | ") + " |")
    }
    return out
  }

  /// Text in a table cell: a `|` would end the cell and a newline the row.
  static func markdownCell(_ text: String) -> String {
    text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
  }

  /// Text from the run in a table cell, shown as it is: Markdown's inline syntax (raw HTML,
  /// entities, emphasis, code, links) is backslash-escaped, and so is the `|` that would end the
  /// cell; every line break (`\r\n`, `\r` and Unicode's too) becomes `newline`.
  static func markdownText(_ text: String, newline: String = " ") -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for character in text {
      if character.isNewline {
        out += newline
        continue
      }
      if "\\`*_[]<>&|~".contains(character) { out.append("\\") }
      out.append(character)
    }
    return out
  }


  static func number(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "" }
    return String(format: "%.3f", value)
  }

  static func csv(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
}
