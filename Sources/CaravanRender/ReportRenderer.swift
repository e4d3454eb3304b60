import CaravanCore
import Foundation

/// The collect reports as text: `timing.csv`, `sweep.csv` and `report.md`.
public enum ReportRenderer {
  public static func timingCSV(_ statistics: RunStatistics) -> String {
    var lines = ["node,requests,errors,prompt_tokens,generated_tokens,prefill_tokens_per_s,decode_tokens_per_s,load_s,request_s,wall_s"]
    for node in statistics.nodes.values.sorted(by: { $0.node < $1.node }) {
      lines.append([
        csv(node.node), "\(node.requests)", "\(node.errors)", "\(node.promptTokens)", "\(node.generatedTokens)",
        number(node.prefillTokensPerSecond), number(node.decodeTokensPerSecond),
        number(Double(node.loadNanoseconds) / 1e9), number(node.requestMilliseconds / 1000), number(node.wallSeconds),
      ].joined(separator: ","))
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

  /// `report.md`: completeness, per-node timing and the sweep table.
  public static func markdown(name: String, runID: String, total: Int, ok: Int, errors: Int, missing: Int, statistics: RunStatistics) -> String {
    var out = ["# \(name): run \(runID)", ""]
    out.append("\(ok + errors) of \(total) work items recorded: \(ok) ok, \(errors) errors, \(missing) missing.")
    out += ["", "## Per node", ""]
    out.append("| node | requests | errors | prompt tokens | generated tokens | prefill tok/s | decode tok/s | load s | wall s |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for node in statistics.nodes.values.sorted(by: { $0.node < $1.node }) {
      out.append("| \(node.node) | \(node.requests) | \(node.errors) | \(node.promptTokens) | \(node.generatedTokens) | \(number(node.prefillTokensPerSecond)) | \(number(node.decodeTokensPerSecond)) | \(number(Double(node.loadNanoseconds) / 1e9)) | \(number(node.wallSeconds)) |")
    }
    out += ["", "## Sweep", ""]
    out.append("How each variant's sampling settings change the answers: distinct answers among repeats of the same prompt, answer length in words, distinct-1/2 (unique words and word pairs over all), and the mean word-set similarity of two repeats (1 = identical).")
    out.append("")
    out.append("| variant | options | answers | distinct per prompt | mean length | stdev | distinct-1 | distinct-2 | repeat similarity |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in statistics.sweep {
      out.append("| \(row.variant) | \(row.options.isEmpty ? "(defaults)" : row.options) | \(row.responses) | \(number(row.distinctAnswersPerPrompt)) | \(number(row.meanLength)) | \(number(row.lengthStdev)) | \(number(row.distinct1)) | \(number(row.distinct2)) | \(number(row.meanPairwiseSimilarity)) |")
    }
    return out.joined(separator: "\n") + "\n"
  }

  static func number(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "" }
    return String(format: "%.3f", value)
  }

  static func csv(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
}
